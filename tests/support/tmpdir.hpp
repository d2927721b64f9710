// TempDir: a fresh folder under $TMPDIR removed (recursively) when the test ends.
#pragma once

#include <filesystem>
#include <string>

namespace airlock::test {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }
  std::filesystem::path operator/(const std::string& p) const { return path_ / p; }

 private:
  std::filesystem::path path_;
};

// Runs a shell command line, returns {exit status, combined stdout+stderr}.
struct ProcResult {
  int status = -1;
  std::string output;
};
ProcResult run(const std::string& command_line);

std::string slurp(const std::filesystem::path& p);
void spit(const std::filesystem::path& p, const std::string& data);

}  // namespace airlock::test
