#pragma once

namespace herald::observe {

// This process's resident memory and descriptors, read from /proc/self (Linux). Reads only
// procfs, never a disk, but walks the descriptor table: call it from a sampler thread, not per
// scrape on an I/O thread. A figure that cannot be read is 0.
struct ProcessStats {
    double resident_memory_bytes = 0;
    double open_fds = 0;
    double max_fds = 0;  // the soft RLIMIT_NOFILE
};
ProcessStats read_process_stats();

}  // namespace herald::observe
