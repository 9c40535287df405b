#pragma once
// Facts about processes read from /proc.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace rrun::os {

// The start time of `pid` in clock ticks since boot (field 22 of
// /proc/PID/stat), or nullopt if there is no such process. A pid together
// with its start time names one process; a bare pid may be reused.
std::optional<uint64_t> process_start_time(pid_t pid, const std::string& proc_root = "/proc");

// The state letter of /proc/PID/stat (R, S, D, Z, T, ...), or nullopt.
std::optional<char> process_state(pid_t pid, const std::string& proc_root = "/proc");

// The pid of `pid` in the innermost pid namespace it is in (the last field
// of NSpid in /proc/PID/status; 1 for the init of a pid namespace), or
// nullopt if there is no such process.
std::optional<pid_t> innermost_pid(pid_t pid, const std::string& proc_root = "/proc");

// Whether `pid` is the process that started at `start_time` and has not
// exited (a zombie has: its namespaces and mounts are gone).
bool process_alive(pid_t pid, uint64_t start_time, const std::string& proc_root = "/proc");

}  // namespace rrun::os
