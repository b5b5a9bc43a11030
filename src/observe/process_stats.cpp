#include "observe/process_stats.hpp"

#include <cstdio>
#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

namespace herald::observe {

ProcessStats read_process_stats() {
    ProcessStats stats;
    // statm: size resident shared text lib data dt, in pages.
    if (std::FILE* statm = std::fopen("/proc/self/statm", "re")) {
        unsigned long size = 0;
        unsigned long resident = 0;
        if (std::fscanf(statm, "%lu %lu", &size, &resident) == 2) {
            stats.resident_memory_bytes =
                static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
        }
        std::fclose(statm);
    }
    if (DIR* fds = opendir("/proc/self/fd")) {
        long count = 0;
        while (const dirent* entry = readdir(fds)) {
            if (entry->d_name[0] != '.') {
                ++count;
            }
        }
        closedir(fds);
        stats.open_fds = static_cast<double>(count - 1);  // less the directory's own descriptor
    }
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
        stats.max_fds = static_cast<double>(limit.rlim_cur);
    }
    return stats;
}

}  // namespace herald::observe
