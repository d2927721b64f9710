// TarWriter: tar headers through libarchive's pax-restricted writer (plain ustar unless a pax
// header is needed, e.g. a path that does not fit ustar's name/prefix split).
//
// libarchive is set up so that it never buffers: bytes_per_block 0 hands every header, data chunk
// and padding straight to our write callback, which forwards to the current ByteSink. That is what
// lets the bundler switch sinks between entries (manifest and signatures in frames of their own).
// bytes_in_last_block 1: the end marker is exactly two zero blocks, no record padding.
// Headers are collected while archive_write_header runs and passed on in one piece, after one
// fix-up (octal_size_field below).
#include <archive.h>
#include <archive_entry.h>

#include <cstdio>
#include <cstring>

#include "core/container/container.hpp"

namespace airlock {
namespace {

struct ArchiveFree {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveFree>;
using EntryPtr = std::unique_ptr<archive_entry, EntryFree>;

// Where bytes go once the writer is being torn down without finish(): nowhere.
class DiscardSink final : public ByteSink {
 public:
  Status write(const void*, std::size_t) override { return {}; }
};

// libarchive writes a ustar size of 64 GiB or more in base-256, which spec §1 forbids ("octal
// numeric fields"). From 8 GiB on the pax `size` record is authoritative and the ustar field is
// ignored, so it is rewritten as octal zero (and the checksum redone). `headers` ends with the
// file's own ustar block, after any pax header blocks.
void octal_size_field(std::string& headers) {
  if (headers.size() < 512) return;
  char* b = headers.data() + headers.size() - 512;
  if (!(static_cast<unsigned char>(b[124]) & 0x80)) return;
  std::memcpy(b + 124, "00000000000", 12);  // 11 digits + NUL
  std::memset(b + 148, ' ', 8);
  unsigned sum = 0;
  for (int i = 0; i < 512; ++i) sum += static_cast<unsigned char>(b[i]);
  std::snprintf(b + 148, 8, "%06o", sum);  // 6 digits + NUL, then the space libarchive leaves
}

}  // namespace

struct TarWriter::Impl {
  ArchivePtr a;
  ByteSink* sink = nullptr;
  std::optional<Error> sink_error;  // the sink's own error, kept to report instead of libarchive's
  bool in_entry = false;
  bool finished = false;
  std::string entry_path;
  std::uint64_t entry_size = 0;
  std::uint64_t entry_written = 0;
  DiscardSink discard;
  bool capturing = false;  // inside archive_write_header: collect the header bytes in `captured`
  std::string captured;

  static la_ssize_t on_write(archive*, void* self, const void* buf, size_t len) {
    auto* m = static_cast<Impl*>(self);
    if (m->capturing) {
      m->captured.append(static_cast<const char*>(buf), len);
      return static_cast<la_ssize_t>(len);
    }
    auto s = m->sink->write(buf, len);
    if (!s) {
      m->sink_error = std::move(s).error();
      return -1;
    }
    return static_cast<la_ssize_t>(len);
  }

  Error archive_error(const std::string& what) {
    if (sink_error) {
      Error e = std::move(*sink_error);
      sink_error.reset();
      return std::move(e).with_context(what);
    }
    const char* msg = archive_error_string(a.get());
    return Error(ErrorClass::internal, what + ": libarchive: " + (msg ? msg : "unknown error"));
  }
};

TarWriter::TarWriter() : impl_(std::make_unique<Impl>()) {}

TarWriter::~TarWriter() {
  if (!impl_ || !impl_->a || impl_->finished) return;
  // Closing would pad the open entry (possibly gigabytes) and write an end marker: an unfinished
  // writer must not make a truncated archive look complete. Marked failed, libarchive skips the
  // padding; closing it still frees its output state (archive_write_free alone leaks it) and
  // writes the end marker, into the discard sink.
  impl_->sink = &impl_->discard;
  archive_write_fail(impl_->a.get());
  archive_write_close(impl_->a.get());
}

Result<std::unique_ptr<TarWriter>> TarWriter::create(ByteSink* sink) {
  std::unique_ptr<TarWriter> w(new TarWriter());
  Impl& m = *w->impl_;
  m.sink = sink;
  m.a.reset(archive_write_new());
  if (!m.a) return fail(ErrorClass::io, "out of memory creating a tar writer");
  archive* a = m.a.get();
  if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK || archive_write_add_filter_none(a) != ARCHIVE_OK ||
      archive_write_set_bytes_per_block(a, 0) != ARCHIVE_OK ||
      archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK)
    return fail(m.archive_error("setting up the tar writer"));
  if (archive_write_open2(a, &m, nullptr, &Impl::on_write, nullptr, nullptr) != ARCHIVE_OK)
    return fail(m.archive_error("opening the tar writer"));
  return w;
}

void TarWriter::set_sink(ByteSink* sink) { impl_->sink = sink; }

Status TarWriter::begin_entry(const TarFileHeader& h) {
  Impl& m = *impl_;
  if (m.in_entry || m.finished)
    return fail(ErrorClass::internal, "tar entry '" + h.path + "' begun while '" + m.entry_path +
                                          "' is still open or the archive is finished");
  EntryPtr e(archive_entry_new());
  if (!e) return fail(ErrorClass::io, "out of memory creating a tar entry");
  archive_entry_copy_pathname(e.get(), h.path.c_str());
  archive_entry_set_size(e.get(), static_cast<la_int64_t>(h.size));
  archive_entry_set_filetype(e.get(), AE_IFREG);
  archive_entry_set_perm(e.get(), h.executable ? 0755 : 0644);
  archive_entry_set_mtime(e.get(), static_cast<time_t>(h.mtime), 0);
  archive_entry_set_uid(e.get(), 0);
  archive_entry_set_gid(e.get(), 0);
  m.capturing = true;
  m.captured.clear();
  const int rc = archive_write_header(m.a.get(), e.get());
  m.capturing = false;
  if (rc != ARCHIVE_OK) return fail(m.archive_error("writing the tar header of '" + h.path + "'"));
  octal_size_field(m.captured);
  AIRLOCK_CHECK(m.sink->write(m.captured.data(), m.captured.size()), "writing the tar header of '" + h.path + "'");
  m.in_entry = true;
  m.entry_path = h.path;
  m.entry_size = h.size;
  m.entry_written = 0;
  return {};
}

Status TarWriter::write_data(const void* data, std::size_t len) {
  Impl& m = *impl_;
  if (!m.in_entry) return fail(ErrorClass::internal, "tar data written outside an entry");
  // libarchive silently drops bytes past the declared size; a mismatch is a bug of the caller.
  if (len > m.entry_size - m.entry_written)
    return fail(ErrorClass::internal, "tar entry '" + m.entry_path + "': more data than its declared " +
                                          std::to_string(m.entry_size) + " bytes");
  const char* p = static_cast<const char*>(data);
  while (len > 0) {
    la_ssize_t n = archive_write_data(m.a.get(), p, len);
    if (n <= 0) return fail(m.archive_error("writing the data of tar entry '" + m.entry_path + "'"));
    p += n;
    len -= static_cast<std::size_t>(n);
    m.entry_written += static_cast<std::uint64_t>(n);
  }
  return {};
}

Status TarWriter::end_entry() {
  Impl& m = *impl_;
  if (!m.in_entry) return fail(ErrorClass::internal, "end_entry() without begin_entry()");
  if (m.entry_written != m.entry_size)
    return fail(ErrorClass::internal, "tar entry '" + m.entry_path + "': " + std::to_string(m.entry_written) +
                                          " bytes written, " + std::to_string(m.entry_size) + " declared");
  if (archive_write_finish_entry(m.a.get()) != ARCHIVE_OK)
    return fail(m.archive_error("padding tar entry '" + m.entry_path + "'"));
  m.in_entry = false;
  return {};
}

Status TarWriter::finish() {
  Impl& m = *impl_;
  if (m.in_entry) return fail(ErrorClass::internal, "tar finished inside entry '" + m.entry_path + "'");
  if (m.finished) return {};
  if (archive_write_close(m.a.get()) != ARCHIVE_OK) return fail(m.archive_error("writing the end-of-archive marker"));
  m.finished = true;
  return {};
}

}  // namespace airlock
