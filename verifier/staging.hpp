// Staging: the one folder the verifier may write into. Everything goes through an O_DIRECTORY fd
// of it: folders made with mkdirat and entered with openat(O_DIRECTORY|O_NOFOLLOW), files created
// with O_CREAT|O_EXCL|O_NOFOLLOW, so no link (planted before or during the run) is ever followed
// and nothing is overwritten. Every item created is remembered; unless commit() is called, the
// destructor removes them all (and the folder itself when this run created it).
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/fd.hpp"

namespace airlock::verifier {

class StagedFile {
 public:
  StagedFile(Fd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  // pwrite(2) at `offset`: blocks of one file may be written by several threads, in any order.
  [[nodiscard]] Status write_at(const void* data, std::size_t len, off_t offset);
  [[nodiscard]] Status close();

 private:
  Fd fd_;
  std::string path_;
};

class Staging {
 public:
  // The folder must not exist (it is created, mode 0755) or be an empty folder; a non-empty folder,
  // a non-folder or a symbolic link is a usage error (2); failing to create it is io (3).
  [[nodiscard]] static Result<std::unique_ptr<Staging>> open(const std::string& path);
  ~Staging();
  Staging(const Staging&) = delete;
  Staging& operator=(const Staging&) = delete;

  // Creates `rel` (a valid payload path) and the folders leading to it; mode 0755 or 0644 exactly.
  [[nodiscard]] Result<StagedFile> create_file(const std::string& rel, bool executable);
  void commit() { committed_ = true; }
  const std::string& path() const { return path_; }

 private:
  Staging(std::string path, Fd dir, bool created)
      : path_(std::move(path)), dir_(std::move(dir)), created_root_(created) {}
  // The folder that will hold `rel` (made as needed); an fd owned by this object.
  Result<int> folder_for(const std::string& rel);
  Result<Fd> enter_folder(const Fd& parent, const std::string& name, const std::string& rel);
  // The folder holding `rel`, entered without following links; invalid Fd when that fails.
  Fd open_parent(const std::string& rel) const;
  void remove_all_created();

  struct Created {
    std::string rel;
    bool is_dir;
  };
  std::string path_;
  Fd dir_;
  bool created_root_;
  bool committed_ = false;
  std::vector<Created> created_;
  std::string last_folder_rel_;
  Fd last_folder_;
};

}  // namespace airlock::verifier
