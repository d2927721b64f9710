// A real registry for the tests: /usr/bin/docker-registry (distribution 2.8) on 127.0.0.1 at a free
// port, with storage, config and `http.secret` in the test's folder, stopped by PID when the
// object goes. Variants: open, htpasswd (bcrypt, `htpasswd -Bbn`), TLS with a CA and server
// certificate made by openssl here. FaultProxy runs tests/support/fault_proxy.py in front of it.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace airlock::test {

// A child process started with execv, its output in `log`, killed (SIGTERM) and reaped by PID.
class Child {
 public:
  Child() = default;
  Child(const std::vector<std::string>& argv, const std::filesystem::path& log);
  ~Child() { stop(); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  Child& operator=(Child&& o) noexcept {
    stop();
    pid_ = o.pid_;
    o.pid_ = -1;
    return *this;
  }
  void stop();
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

int free_port();
// Waits until 127.0.0.1:port accepts a connection (false after 10 s).
bool wait_for_port(int port, const std::string& ip = "127.0.0.1");

struct RegistryVariant {
  bool htpasswd = false;  // user "alice", password "s3cret"
  bool tls = false;       // server cert for 127.0.0.1 signed by the test CA (ca_file())
  bool token = false;     // Bearer auth: tests/support/token_server.py, user "alice", "s3cret"
  int token_ttl = 300;    // seconds a token is good for
  int port = 0;           // 0: a free one; else this one (a restart on the same port)
};

class RegistryServer {
 public:
  RegistryServer(const std::filesystem::path& dir, RegistryVariant v = {});
  bool ok() const { return ok_; }
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  std::filesystem::path ca_file() const { return dir_ / "ca.pem"; }
  std::string log() const;
  pid_t pid() const { return child_.pid(); }
  std::filesystem::path token_log() const { return dir_ / "tokens.log"; }  // a line per token issued
  void stop() { child_.stop(); }

 private:
  void make_certs();
  std::string start_token_server(int ttl);  // the registry's auth section
  std::filesystem::path dir_;
  int port_ = 0;
  bool ok_ = false;
  Child token_;
  Child child_;
};

// Waits (10 s at most) for a helper script to write its port into `file`; 0 when it did not.
int wait_for_port_file(const std::filesystem::path& file);

class FaultProxy {
 public:
  // mode: see fault_proxy.py (pass, flip, truncate-once, ignore-range, patch-503-once, log, redirect, ...)
  FaultProxy(const std::filesystem::path& dir, const std::string& upstream, const std::string& mode);
  bool ok() const { return port_ > 0; }
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  std::filesystem::path redirect_log() const { return dir_ / "redirect.log"; }  // also mode log's requests
  std::filesystem::path requests_log() const { return dir_ / "requests.log"; }  // "METHOD PATH STATUS"

 private:
  std::filesystem::path dir_;
  int port_ = 0;
  Child child_;
};

}  // namespace airlock::test
