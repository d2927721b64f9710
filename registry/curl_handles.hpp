// The one owner of each libcurl C handle airlock uses: an easy handle (one connection cache, reused
// between requests) and a header list. Only registry/ includes curl.
#pragma once

#include <curl/curl.h>

#include <memory>

namespace airlock::registry {

struct CurlEasyDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
using CurlEasy = std::unique_ptr<CURL, CurlEasyDeleter>;

struct CurlSlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using CurlSlist = std::unique_ptr<curl_slist, CurlSlistDeleter>;

}  // namespace airlock::registry
