#!/usr/bin/env bash
# Fails when a C++ declaration returns absl::Status or absl::StatusOr<...> without [[nodiscard]].
#
# absl::Status itself is not marked must-use in the abseil Wisp builds with, so an error returned
# by a function and dropped by its caller compiles silently. Every function that returns a status
# is declared [[nodiscard]]: a dropped status is then a -Werror compile error, and a caller that
# means to drop it says so (`(void)` or `.IgnoreError()` with a comment why).
#
# The check is a heuristic over the text, line by line: a declaration is a line (or a return type
# alone on a line and the name on the next) that starts with optional specifiers (static, virtual,
# inline, constexpr, friend), then absl::Status or absl::StatusOr<...>, then an unqualified name
# and '('. It needs [[nodiscard]] on the same line or the line above. Exempt:
#   - out-of-line definitions (`absl::Status Foo::Bar(`, `absl::Status ns::Baz(`): the attribute
#     sits on the declaration in the class or header;
#   - a .cpp definition of a function that a header declares [[nodiscard]] (same name);
#   - lambdas and std::function types (no name before '(');
#   - a line carrying the marker `lint-nodiscard: ok` (say why next to it).
#
# Usage: tools/lint-nodiscard.sh [repo-root]   (exit 1 and a list of file:line on a finding)
#        tools/lint-nodiscard.sh --self-test   (checks that the lint catches planted bad files)
set -euo pipefail

# Prints the findings for the given files (paths relative to the current directory), one
# "file:line: text" per line. Headers are read first so that .cpp definitions of functions
# declared [[nodiscard]] in a header are exempt.
scan() {
  perl -e '
    use strict; use warnings;
    my $spec = qr/(?:(?:static|virtual|inline|constexpr|friend|extern)\s+)*/;
    my $type = qr/absl::Status(?:Or<.*>)?/;
    my (%declared, @findings);
    use sort "stable";
    my @files = sort { ($a =~ /\.(hpp|h)$/ ? 0 : 1) <=> ($b =~ /\.(hpp|h)$/ ? 0 : 1) } @ARGV;
    for my $file (@files) {
      open(my $fh, "<", $file) or next;
      my @lines = <$fh>;
      close $fh;
      my $is_header = $file =~ /\.(hpp|h)$/;
      for my $i (0 .. $#lines) {
        my $line = $lines[$i];
        next if $line =~ m{^\s*//};
        my $name;
        if ($line =~ /^\s*(?:\[\[nodiscard\]\]\s*)?(?:template\s*<[^>]*>\s*)?$spec$type\s+(~?[A-Za-z_][\w:]*)\s*\(/) {
          $name = $1;
        } elsif ($line =~ /^\s*(?:\[\[nodiscard\]\]\s*)?$spec$type\s*$/ && $i < $#lines
                 && $lines[$i + 1] =~ /^\s*(~?[A-Za-z_][\w:]*)\s*\(/) {
          $name = $1;
        }
        next unless defined $name;
        next if $name =~ /::/;                      # out-of-line definition
        next if $name =~ /^(?:operator|return|co_return)$/;
        my $prev = $i > 0 ? $lines[$i - 1] : "";
        my $marked = $line =~ /\[\[nodiscard\]\]/ || $prev =~ /\[\[nodiscard\]\]\s*$/;
        if ($marked) { $declared{$name} = 1 if $is_header; next; }
        next if $line =~ /lint-nodiscard: ok/;
        next if !$is_header && $declared{$name};     # defined here, declared in a header
        chomp(my $text = $line);
        $text =~ s/^\s+//;
        push @findings, sprintf("%s:%d: %s", $file, $i + 1, $text);
      }
    }
    print "$_\n" for @findings;
  ' "$@"
}

self_test() {
  local dir
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' RETURN
  cat >"$dir/bad.hpp" <<'EOF'
#pragma once
#include <absl/status/statusor.h>
absl::Status Save(int x);
class Store {
public:
    virtual absl::StatusOr<std::vector<std::pair<int, int>>> List() = 0;
    static absl::StatusOr<int> Open(const char* path);
};
absl::StatusOr<std::map<std::string, std::string>>
LongReturnType(int a, int b);
EOF
  cat >"$dir/bad.cpp" <<'EOF'
namespace {
absl::Status Helper() { return absl::OkStatus(); }
static absl::StatusOr<int> Other(int x) { return x; }
}  // namespace
EOF
  cat >"$dir/good.hpp" <<'EOF'
#pragma once
[[nodiscard]] absl::Status Saved(int x);
class Good {
public:
    [[nodiscard]] virtual absl::StatusOr<int> Count() = 0;
    [[nodiscard]] static absl::StatusOr<std::unique_ptr<Good>> Open(
        const char* path);
    [[nodiscard]]
    absl::Status OnItsOwnLine();
};
[[nodiscard]] absl::StatusOr<std::map<std::string, std::string>>
LongReturnTypeGood(int a, int b);
EOF
  cat >"$dir/good.cpp" <<'EOF'
absl::Status Saved(int x) { return absl::OkStatus(); }
absl::StatusOr<int> Good::Count() { return 1; }
absl::Status wisp::Free(int x) { return absl::OkStatus(); }
namespace {
[[nodiscard]] absl::Status Helper2() { return absl::OkStatus(); }
}  // namespace
void F() {
    auto fn = [](int x) -> absl::Status { return absl::OkStatus(); };
    std::function<absl::Status(int)> g;
    absl::Status s = Saved(1);
    absl::StatusOr<int> v = Good::Open("x");
    // absl::Status Commented();
}
absl::Status Marked() { return absl::OkStatus(); }  // lint-nodiscard: ok (test)
EOF
  local out expected
  out=$(cd "$dir" && scan bad.hpp bad.cpp good.hpp good.cpp)
  expected=$'bad.hpp:3: absl::Status Save(int x);
bad.hpp:6: virtual absl::StatusOr<std::vector<std::pair<int, int>>> List() = 0;
bad.hpp:7: static absl::StatusOr<int> Open(const char* path);
bad.hpp:9: absl::StatusOr<std::map<std::string, std::string>>
bad.cpp:2: absl::Status Helper() { return absl::OkStatus(); }
bad.cpp:3: static absl::StatusOr<int> Other(int x) { return x; }'
  if [[ "$out" != "$expected" ]]; then
    echo "lint-nodiscard --self-test: FAILED" >&2
    echo "expected:" >&2
    echo "$expected" >&2
    echo "got:" >&2
    echo "$out" >&2
    return 1
  fi
  echo "lint-nodiscard --self-test: the planted declarations without [[nodiscard]] are found," \
       "the marked ones, definitions, lambdas and variables are not"
}

if [[ ${1:-} == --self-test ]]; then
  self_test
  exit $?
fi

root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"

if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  files=$(git ls-files -co --exclude-standard -- '*.cpp' '*.hpp' '*.h' '*.cc' | grep -v '^build')
else
  files=$(find . -name '*.cpp' -o -name '*.hpp' -o -name '*.h' | sed 's|^\./||' | grep -v '^build')
fi

# shellcheck disable=SC2086
findings=$(scan $files)
if [[ -n $findings ]]; then
  echo "lint-nodiscard: functions returning absl::Status/StatusOr without [[nodiscard]]:" >&2
  echo "$findings" >&2
  echo "lint-nodiscard: declare them [[nodiscard]]; a caller that drops a status on purpose" \
       "writes (void) or .IgnoreError() with a comment why (CONVENTIONS.md \"Errors\")." >&2
  exit 1
fi
echo "lint-nodiscard: every function returning absl::Status/StatusOr is [[nodiscard]]"
