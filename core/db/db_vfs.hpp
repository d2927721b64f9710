// The SQLite side of the filesystem seam (core/sys/sys.hpp): a VFS that wraps the default "unix" VFS
// and asks the fault plan before every xWrite, xTruncate, xSync, xDelete and creating xOpen, so
// migrations, snapshot backups and state.db commits see the same injected EIO/ENOSPC as our own
// writes. Registered once as the default VFS; core/db calls install_fault_vfs() before it opens.
#pragma once

namespace airlock::db {

// Idempotent and thread-safe. Returns false when SQLite refused the registration (then the plain
// default VFS stays in use and faults do not reach SQLite).
bool install_fault_vfs();

}  // namespace airlock::db
