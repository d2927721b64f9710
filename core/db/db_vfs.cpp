// A pass-through VFS over "unix" (SQLite's shim pattern, as in its vfstrace and multiplex
// extensions): every file we open carries the real unix file right behind our header, every
// method forwards to it, and the mutating ones ask core/sys's fault plan first. With no plan armed
// that is one relaxed atomic load per write, truncate, sync or delete.
#include "core/db/db_vfs.hpp"

#include <sqlite3.h>

#include <unistd.h>

#include <cerrno>
#include <mutex>

#include "core/sys/sys.hpp"

namespace airlock::db {
namespace {

struct FaultFile {
  sqlite3_file base;
  sqlite3_file* real;  // lives right after this header, in the same allocation
};

sqlite3_vfs* g_real = nullptr;
sqlite3_vfs g_vfs{};

sqlite3_file* real_of(sqlite3_file* f) { return reinterpret_cast<FaultFile*>(f)->real; }

// The errno of an injected fault as SQLite's code: ENOSPC is "database or disk is full", as the
// unix VFS itself reports it; anything else is the I/O error of that operation.
int injected(int err, int ioerr) { return err == ENOSPC ? SQLITE_FULL : ioerr; }

int x_close(sqlite3_file* f) { return real_of(f)->pMethods->xClose(real_of(f)); }
int x_read(sqlite3_file* f, void* buf, int n, sqlite3_int64 off) {
  return real_of(f)->pMethods->xRead(real_of(f), buf, n, off);
}
int x_write(sqlite3_file* f, const void* buf, int n, sqlite3_int64 off) {
  if (const int e = sys::fault_check("sqlite xWrite")) return injected(e, SQLITE_IOERR_WRITE);
  return real_of(f)->pMethods->xWrite(real_of(f), buf, n, off);
}
int x_truncate(sqlite3_file* f, sqlite3_int64 size) {
  if (const int e = sys::fault_check("sqlite xTruncate")) return injected(e, SQLITE_IOERR_TRUNCATE);
  return real_of(f)->pMethods->xTruncate(real_of(f), size);
}
int x_sync(sqlite3_file* f, int flags) {
  if (const int e = sys::fault_check("sqlite xSync")) return injected(e, SQLITE_IOERR_FSYNC);
  return real_of(f)->pMethods->xSync(real_of(f), flags);
}
int x_file_size(sqlite3_file* f, sqlite3_int64* size) { return real_of(f)->pMethods->xFileSize(real_of(f), size); }
int x_lock(sqlite3_file* f, int l) { return real_of(f)->pMethods->xLock(real_of(f), l); }
int x_unlock(sqlite3_file* f, int l) { return real_of(f)->pMethods->xUnlock(real_of(f), l); }
int x_check_reserved(sqlite3_file* f, int* out) { return real_of(f)->pMethods->xCheckReservedLock(real_of(f), out); }
int x_file_control(sqlite3_file* f, int op, void* arg) {
  return real_of(f)->pMethods->xFileControl(real_of(f), op, arg);
}
int x_sector_size(sqlite3_file* f) { return real_of(f)->pMethods->xSectorSize(real_of(f)); }
int x_device_chars(sqlite3_file* f) { return real_of(f)->pMethods->xDeviceCharacteristics(real_of(f)); }
int x_shm_map(sqlite3_file* f, int pg, int sz, int extend, void volatile** p) {
  return real_of(f)->pMethods->xShmMap(real_of(f), pg, sz, extend, p);
}
int x_shm_lock(sqlite3_file* f, int off, int n, int flags) {
  return real_of(f)->pMethods->xShmLock(real_of(f), off, n, flags);
}
void x_shm_barrier(sqlite3_file* f) { real_of(f)->pMethods->xShmBarrier(real_of(f)); }
int x_shm_unmap(sqlite3_file* f, int del) { return real_of(f)->pMethods->xShmUnmap(real_of(f), del); }
int x_fetch(sqlite3_file* f, sqlite3_int64 off, int n, void** pp) {
  return real_of(f)->pMethods->xFetch(real_of(f), off, n, pp);
}
int x_unfetch(sqlite3_file* f, sqlite3_int64 off, void* p) {
  return real_of(f)->pMethods->xUnfetch(real_of(f), off, p);
}

// One table per io_methods version the real file may report, so SQLite never calls a method the
// real file lacks.
sqlite3_io_methods methods_v(int version) {
  return {version,    x_close,       x_read,           x_write,        x_truncate,    x_sync,         x_file_size,
          x_lock,     x_unlock,      x_check_reserved, x_file_control, x_sector_size, x_device_chars, x_shm_map,
          x_shm_lock, x_shm_barrier, x_shm_unmap,      x_fetch,        x_unfetch};
}
const sqlite3_io_methods kMethods[3] = {methods_v(1), methods_v(2), methods_v(3)};

int x_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* f, int flags, int* out_flags) {
  auto* ff = reinterpret_cast<FaultFile*>(f);
  ff->base.pMethods = nullptr;
  if (flags & SQLITE_OPEN_CREATE) {
    // Opening an existing database needs no room; creating a journal or a new file does.
    const bool takes_space = !name || !sys::fault_plan_armed() || ::access(name, F_OK) != 0;
    if (sys::fault_check("sqlite xOpen(create)", takes_space)) return SQLITE_CANTOPEN;
  }
  ff->real = reinterpret_cast<sqlite3_file*>(ff + 1);
  const int rc = g_real->xOpen(g_real, name, ff->real, flags, out_flags);
  // SQLite calls xClose whenever pMethods is set, even after a failed open: mirror the real file.
  if (ff->real->pMethods) {
    const int v = ff->real->pMethods->iVersion;
    ff->base.pMethods = &kMethods[(v < 1 ? 1 : v > 3 ? 3 : v) - 1];
  }
  return rc;
}

int x_delete(sqlite3_vfs*, const char* name, int sync_dir) {
  if (const int e = sys::fault_check("sqlite xDelete", false)) return injected(e, SQLITE_IOERR_DELETE);
  return g_real->xDelete(g_real, name, sync_dir);
}

}  // namespace

bool install_fault_vfs() {
  static std::once_flag once;
  static bool ok = false;
  std::call_once(once, [] {
    if (sqlite3_initialize() != SQLITE_OK) return;
    g_real = sqlite3_vfs_find(nullptr);
    if (!g_real) return;
    // Everything else (xAccess, xFullPathname, randomness, time, syscalls) is the real VFS's own:
    // they use only pAppData and mxPathname, which are copied too.
    g_vfs = *g_real;
    g_vfs.pNext = nullptr;
    g_vfs.zName = "airlock-faults";
    g_vfs.szOsFile = static_cast<int>(sizeof(FaultFile)) + g_real->szOsFile;
    g_vfs.xOpen = x_open;
    g_vfs.xDelete = x_delete;
    ok = sqlite3_vfs_register(&g_vfs, 1) == SQLITE_OK;
  });
  return ok;
}

}  // namespace airlock::db
