// Staging: the one folder the verifier may write into. Files are written into its partial folder,
// `<folder>/.airlock-partial/` (mode 0700), and moved up into the folder itself only once
// everything verified (commit()): a run killed outright (SIGKILL, a power cut) leaves its
// unverified files under that name, never where verified ones go, and the next run refuses the
// folder until someone removes them. Everything goes through O_DIRECTORY fds: folders made with
// mkdirat and entered with openat(O_DIRECTORY|O_NOFOLLOW), files created with
// O_CREAT|O_EXCL|O_NOFOLLOW, entries moved up with renameat2(RENAME_NOREPLACE), so no link
// (planted before or during the run) is ever followed and nothing is overwritten. Every item
// created is remembered; unless commit() succeeds, the destructor removes them all (and the folder
// itself when this run created it).
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/sys/fd.hpp"

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
  static constexpr const char* kPartial = ".airlock-partial";
  // While an entry of the payload itself is named kPartial, the partial folder steps aside to this
  // name, which no payload path can have ('~' is outside spec §3's characters).
  static constexpr const char* kPartialAside = ".airlock-partial~";

  // The folder must not exist (it is created, mode 0755) or be an empty folder; a non-empty folder
  // (one that holds a partial folder is named as such), a non-folder, a symbolic link however it
  // is spelt (`link`, `link/`, `link/.`) and a path whose last step is `..` are usage errors (2);
  // failing to create it is io (3). Folders above it are the caller's choice and are followed.
  [[nodiscard]] static Result<std::unique_ptr<Staging>> open(const std::string& path);
  ~Staging();
  Staging(const Staging&) = delete;
  Staging& operator=(const Staging&) = delete;

  // Creates `rel` (a valid payload path) and the folders leading to it, in the partial folder;
  // mode 0755 or 0644 exactly.
  [[nodiscard]] Result<StagedFile> create_file(const std::string& rel, bool executable);
  // Moves every entry this run created up into the folder (never replacing anything) and removes
  // the partial folder. On failure what was moved goes back, and the destructor removes it all.
  [[nodiscard]] Status commit();
  const std::string& path() const { return path_; }

 private:
  Staging(std::string path, Fd root, Fd dir, bool created)
      : path_(std::move(path)), root_(std::move(root)), dir_(std::move(dir)), created_root_(created) {}
  std::string partial_path() const { return path_ + "/" + partial_name_; }
  // A top-level entry of the partial folder, moved up into the folder; and back (best effort).
  Status move_up(const std::string& name);
  void move_back(const std::vector<std::string>& names);
  // Renames the partial folder within the folder, keeping partial_name_ up to date.
  Status rename_partial(const char* to);
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
  Fd root_;  // the folder
  Fd dir_;   // its partial folder, where every file is written
  std::string partial_name_ = kPartial;
  bool created_root_;
  bool committed_ = false;
  std::vector<Created> created_;
  std::string last_folder_rel_;
  Fd last_folder_;
};

}  // namespace airlock::verifier
