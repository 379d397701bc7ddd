#include <wisp/testing/shell.hpp>

#include <sys/wait.h>

#include <cstdio>
#include <string>
#include <utility>

namespace wisp::testing {

int Shell(const std::string& command, std::string* output) {
    // stderr joins the pipe for the whole command, not only for its last simple command.
    FILE* p = ::popen(("exec 2>&1; " + command).c_str(), "r");
    if (p == nullptr) return -1;
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    const int rc = ::pclose(p);
    if (output != nullptr) *output = std::move(out);
    return rc != -1 && WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

}  // namespace wisp::testing
