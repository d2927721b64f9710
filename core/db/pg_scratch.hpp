// A throwaway PostgreSQL cluster for the build's round-trip check of Postgres migrations: initdb and
// pg_ctl (the newest installed server's) on a private Unix socket in a temp folder, no TCP
// listener, fsync off. initdb refuses root, so as root the cluster runs as `nobody` and the folder
// is handed to it. The check connects as a role without superuser, like a site. Stopped and
// removed when the owner goes.
#pragma once

#include <string>

#include "core/error.hpp"

namespace airlock::db {

class ScratchServer {
 public:
  // ErrorClass::usage when no server is installed (the message says what is missing), else
  // internal or io with initdb's or pg_ctl's last words.
  [[nodiscard]] static Result<ScratchServer> start();
  ScratchServer(ScratchServer&& o) noexcept;
  ScratchServer& operator=(ScratchServer&&) = delete;
  ~ScratchServer();
  // A fresh empty database owned by the role without superuser, and its conninfo.
  [[nodiscard]] Result<std::string> fresh_database(const std::string& name);
  // The superuser's conninfo (administration of the cluster only).
  std::string admin(const std::string& dbname) const;
  std::string app(const std::string& dbname) const;
  const std::string& dir() const { return dir_; }

 private:
  ScratchServer() = default;
  std::string dir_;
  std::string bindir_;
  bool running_ = false;
};

}  // namespace airlock::db
