// Spawn's choice of how to execute a program file (ELF, "#!", or /bin/sh for anything else),
// made from the file's first bytes so that it does not depend on the spawn reporting ENOEXEC
// (which it cannot under qemu-user), and its errors for files that cannot run.
#include "process.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

using namespace wisp::proxy;
namespace fs = std::filesystem;

namespace {

// A fresh directory under the temp dir, removed at the end of the test.
struct TempDir {
    TempDir() {
        std::string pattern = (fs::temp_directory_path() / "wisp-process-test.XXXXXX").string();
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        path = pattern;
    }
    ~TempDir() {
        std::error_code ignored;
        fs::remove_all(path, ignored);
    }
    fs::path path;
};

fs::path Write(const fs::path& path, const std::string& bytes, fs::perms perms = fs::perms(0755)) {
    std::ofstream(path, std::ios::binary) << bytes;
    fs::permissions(path, perms);
    return path;
}

struct Ran {
    bool started = false;
    std::string error;
    std::string out;
    int exit_code = -1;
};

// Spawns argv with stdout on a pipe, reads it to the end, waits for the child.
Ran Run(std::vector<std::string> argv, const std::string& cwd = "") {
    Ran ran;
    int out[2];
    REQUIRE(MakePipe(out, ran.error));
    SpawnSpec spec;
    spec.argv = std::move(argv);
    spec.env = InheritedEnvironment();
    spec.cwd = cwd;
    spec.stdout_fd = out[1];
    pid_t pid = Spawn(spec, ran.error);
    ::close(out[1]);
    if (pid > 0) {
        ran.started = true;
        char chunk[4096];
        for (;;) {
            ssize_t n = ::read(out[0], chunk, sizeof chunk);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            ran.out.append(chunk, static_cast<size_t>(n));
        }
        int status = 0;
        REQUIRE(::waitpid(pid, &status, 0) == pid);
        if (WIFEXITED(status)) ran.exit_code = WEXITSTATUS(status);
    }
    ::close(out[0]);
    return ran;
}

}  // namespace

TEST_CASE("DetectExecFormat: ELF, #!, anything else, unreadable", "[process]") {
    TempDir dir;
    CHECK(DetectExecFormat(Write(dir.path / "elf", std::string("\x7f"
                                                               "ELF\x02\x01\x01",
                                                               7))) == ExecFormat::kElf);
    CHECK(DetectExecFormat("/bin/sh") == ExecFormat::kElf);
    CHECK(DetectExecFormat(Write(dir.path / "shebang", "#!/bin/sh\necho hi\n")) ==
          ExecFormat::kShebang);
    CHECK(DetectExecFormat(Write(dir.path / "short-shebang", "#!")) == ExecFormat::kShebang);
    CHECK(DetectExecFormat(Write(dir.path / "script", "echo hi\n")) == ExecFormat::kShell);
    CHECK(DetectExecFormat(Write(dir.path / "almost-elf",
                                 "\x7f"
                                 "EL")) == ExecFormat::kShell);
    CHECK(DetectExecFormat(Write(dir.path / "hash", "# a comment\necho hi\n")) ==
          ExecFormat::kShell);
    CHECK(DetectExecFormat(Write(dir.path / "empty", "")) == ExecFormat::kShell);
    CHECK(DetectExecFormat((dir.path / "missing").string()) == ExecFormat::kUnreadable);
    CHECK(DetectExecFormat(dir.path.string()) == ExecFormat::kUnreadable);  // a directory
}

TEST_CASE("Spawn: a script without #! runs under /bin/sh with its arguments", "[process]") {
    TempDir dir;
    auto script = Write(dir.path / "exec", "echo \"args=$# first=$1 shell-ran\"\n");
    Ran ran = Run({script.string(), "one", "two"});
    REQUIRE(ran.started);
    CHECK(ran.error.empty());
    CHECK(ran.out == "args=2 first=one shell-ran\n");
    CHECK(ran.exit_code == 0);

    SECTION("also as a relative path, looked up in the child's cwd") {
        Ran rel = Run({"./exec", "x"}, dir.path.string());
        REQUIRE(rel.started);
        CHECK(rel.out == "args=1 first=x shell-ran\n");
    }
}

TEST_CASE("Spawn: a #! script and an ELF binary are executed directly", "[process]") {
    TempDir dir;
    // $0 tells who ran it: the kernel passes the script's path to the interpreter.
    auto script = Write(dir.path / "exec", "#!/bin/sh\necho \"shebang $1 $(basename \"$0\")\"\n");
    Ran ran = Run({script.string(), "arg"});
    REQUIRE(ran.started);
    CHECK(ran.out == "shebang arg exec\n");
    CHECK(ran.exit_code == 0);

    Ran elf = Run({"/bin/echo", "from", "elf"});
    REQUIRE(elf.started);
    CHECK(elf.out == "from elf\n");
    CHECK(elf.exit_code == 0);
}

TEST_CASE("Spawn: an empty executable runs as an empty shell script", "[process]") {
    TempDir dir;
    Ran ran = Run({Write(dir.path / "exec", "").string()});
    REQUIRE(ran.started);
    CHECK(ran.out.empty());  // the proxy then answers "did not return a dictionary"
    CHECK(ran.exit_code == 0);
}

TEST_CASE("Spawn: a file that cannot run is an error before spawning", "[process]") {
    TempDir dir;
    SECTION("missing") {
        const std::string path = (dir.path / "missing").string();
        Ran ran = Run({path});
        CHECK_FALSE(ran.started);
        CHECK(ran.error == "cannot run " + path + ": No such file or directory");
    }
    SECTION("not executable") {
        const std::string path = Write(dir.path / "exec", "echo hi\n", fs::perms(0644)).string();
        Ran ran = Run({path});
        CHECK_FALSE(ran.started);
        CHECK(ran.error == "cannot run " + path + ": Permission denied");
    }
    SECTION("a directory") {
        fs::create_directory(dir.path / "sub");
        const std::string path = (dir.path / "sub").string();
        Ran ran = Run({path});
        CHECK_FALSE(ran.started);
        CHECK(ran.error == "cannot run " + path + ": Permission denied");
    }
    SECTION("nothing to run") {
        Ran ran = Run({});
        CHECK_FALSE(ran.started);
        CHECK(ran.error == "nothing to run");
    }
}
