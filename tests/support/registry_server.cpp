#include "tests/support/registry_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "tests/support/tmpdir.hpp"

namespace fs = std::filesystem;

namespace airlock::test {

Child::Child(const std::vector<std::string>& argv, const fs::path& log) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    ::execv(args[0], args.data());
    ::_exit(127);
  }
}

void Child::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  int st = 0;
  ::waitpid(pid_, &st, 0);
  pid_ = -1;
}

int free_port() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);
  return ntohs(a.sin_port);
}

bool wait_for_port(int port, const std::string& ip) {
  for (int i = 0; i < 200; ++i) {
    int s = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
    const bool up = ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(s);
    if (up) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

void RegistryServer::make_certs() {
  const std::string d = "'" + dir_.string() + "'";
  run("(cd " + d +
      " && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=airlock-test-ca"
      " && openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1"
      " && printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext"
      " && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2"
      " -extfile san.ext) > " +
      d + "/openssl.log 2>&1");
}

RegistryServer::RegistryServer(const fs::path& dir, RegistryVariant v) : dir_(dir) {
  fs::create_directories(dir_);
  port_ = v.port > 0 ? v.port : free_port();
  std::string cfg =
      "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: " + (dir_ / "storage").string() +
      "\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:" + std::to_string(port_) +
      "\n  secret: airlock-test-secret\n";
  if (v.tls) {
    make_certs();
    cfg += "  tls:\n    certificate: " + (dir_ / "server.pem").string() +
           "\n    key: " + (dir_ / "server.key").string() + "\n";
  }
  if (v.token) cfg += start_token_server(v.token_ttl);
  if (v.htpasswd) {
    run("htpasswd -Bbn alice s3cret > '" + (dir_ / "htpasswd").string() + "'");
    cfg += "auth:\n  htpasswd:\n    realm: airlock-test\n    path: " + (dir_ / "htpasswd").string() + "\n";
  }
  spit(dir_ / "config.yml", cfg);
  child_ = Child({"/usr/bin/docker-registry", "serve", (dir_ / "config.yml").string()}, dir_ / "registry.log");
  ok_ = wait_for_port(port_);
}

int wait_for_port_file(const fs::path& file) {
  for (int i = 0; i < 200 && !fs::exists(file); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  return fs::exists(file) ? std::stoi(slurp(file)) : 0;
}

std::string RegistryServer::start_token_server(int ttl) {
  const fs::path cert = dir_ / "token.pem", port_file = dir_ / "token.port";
  token_ = Child({"/usr/bin/python3", std::string(AIRLOCK_SOURCE_DIR) + "/tests/support/token_server.py", cert.string(),
                  port_file.string(), std::to_string(ttl)},
                 dir_ / "token.log");
  const int port = wait_for_port_file(port_file);
  return "auth:\n  token:\n    realm: http://127.0.0.1:" + std::to_string(port) +
         "/token\n    service: airlock-test\n    issuer: airlock-test-issuer\n    rootcertbundle: " + cert.string() +
         "\n";
}

std::string RegistryServer::log() const { return slurp(dir_ / "registry.log"); }

FaultProxy::FaultProxy(const fs::path& dir, const std::string& upstream, const std::string& mode) : dir_(dir) {
  fs::create_directories(dir_);
  const fs::path port_file = dir_ / "proxy.port";
  child_ = Child({"/usr/bin/python3", std::string(AIRLOCK_SOURCE_DIR) + "/tests/support/fault_proxy.py", upstream,
                  port_file.string(), mode, redirect_log().string()},
                 dir_ / "proxy.log");
  port_ = wait_for_port_file(port_file);
}

}  // namespace airlock::test
