#pragma once
// Running a shell command from a test (start dockerd, build images, zip a fixture, ask curl).
#include <string>

namespace wisp::testing {

/// Runs `command` with /bin/sh (popen), stderr folded into stdout, and blocks until it exits.
/// Returns its exit status: -1 when it could not be started or did not exit normally (a signal).
/// When `output` is given, it receives everything the command printed (replacing its contents).
/// Thread-safe (each call has its own pipe).
int Shell(const std::string& command, std::string* output = nullptr);

}  // namespace wisp::testing
