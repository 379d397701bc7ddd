// End-to-end: the `wsk` CLI (build/bin/wsk) against a real wisp-standalone, used only the way a
// user does: `wsk property set`, then commands, checking stdout, stderr and exit codes. Each wsk
// run gets its own WSK_CONFIG_FILE in a temp folder and runs in that folder (artifacts live
// there). Needs Docker and the runtime images, plus cc and zip for the native action.
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "standalone_harness.hpp"

using namespace wisp::e2e;
using namespace std::chrono_literals;

namespace {

void WriteFile(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
}

using Run = WskRun;

/// A user's shell: a working folder with its own wskprops.
struct User : WskUser {
    User() : WskUser("wisp-wsk-e2e-") {}
};

Standalone& Wisp() {
    static std::unique_ptr<Standalone> instance = [] {
        auto s = Standalone::Start({});
        if (!s.ok()) {
            FAIL("cannot start wisp-standalone: " << s.status().message());
        }
        return *std::move(s);
    }();
    return *instance;
}

/// A user whose wskprops point at the shared standalone (via `wsk property set`).
const User& Configured() {
    static User* user = [] {
        auto* u = new User();
        Run r = u->Wsk(
            {"property", "set", "--apihost", Wisp().api_host(), "--auth", Wisp().guest_auth()});
        INFO(r);
        REQUIRE(r.code == 0);
        return u;
    }();
    return *user;
}

bool Contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

const std::regex kTid(R"(\(code [A-Za-z0-9]+\)\n)");

}  // namespace

TEST_CASE("wsk property set writes the wskprops file", "[e2e][wsk]") {
    User u;
    Run r =
        u.Wsk({"property", "set", "--apihost", Wisp().api_host(), "--auth", Wisp().guest_auth()});
    INFO(r);
    REQUIRE(r.code == 0);
    CHECK(r.out ==
          "ok: whisk auth set. Run 'wsk property get --auth' to see the new value.\n"
          "ok: whisk API host set to " +
              Wisp().api_host() + "\n");
    const std::string props = ReadFile(u.File("wskprops"));
    CHECK(Contains(props, "APIHOST=" + Wisp().api_host() + "\n"));
    CHECK(Contains(props, "AUTH=" + Wisp().guest_auth() + "\n"));

    r = u.Wsk({"property", "get", "--apihost"});
    CHECK(r.out == "whisk API host\t\t" + Wisp().api_host() + "\n");
    r = u.Wsk({"property", "get", "--auth", "-o", "raw"});
    CHECK(r.out == Wisp().guest_auth() + "\n");
    r = u.Wsk({"property", "get", "--namespace"});
    CHECK(r.out == "whisk namespace\t\tguest\n");

    r = u.Wsk({"property", "unset", "--auth"});
    CHECK(r.out == "ok: whisk auth unset.\n");
    r = u.Wsk({"action", "list"});
    INFO(r);
    CHECK(r.code == 2);
    CHECK(Contains(r.err, "Authorization key is not configured (--auth is required)"));
}

TEST_CASE("wsk action create, invoke -r, get, list, delete", "[e2e][wsk]") {
    const User& u = Configured();
    const std::string name = UniqueName("hello");
    WriteFile(u.File("hello.py"),
              "def main(args):\n"
              "    name = args.get('name', 'stranger')\n"
              "    print('greeting ' + name)\n"
              "    return {'greeting': 'Hello ' + name + '!'}\n");
    Run r = u.Wsk({"action", "create", name, "hello.py"});
    INFO(r);
    REQUIRE(r.code == 0);
    CHECK(r.out == "ok: created action " + name + "\n");

    r = u.Wsk({"action", "invoke", name, "-r", "-p", "name", "World"});
    INFO(r);
    CHECK(r.code == 0);
    CHECK(r.out == "{\n    \"greeting\": \"Hello World!\"\n}\n");

    r = u.Wsk({"action", "invoke", name, "--blocking", "--param", "name", "Wisp"});
    INFO(r);
    CHECK(r.code == 0);
    CHECK(std::regex_search(r.out, std::regex("^ok: invoked /_/" + name +
                                              " with id [0-9a-f]{32}\n\\{\n    \"activationId\"")));
    CHECK(Contains(r.out, "\"greeting\": \"Hello Wisp!\""));

    r = u.Wsk({"action", "invoke", name});
    CHECK(r.code == 0);
    CHECK(
        std::regex_match(r.out, std::regex("ok: invoked /_/" + name + " with id [0-9a-f]{32}\n")));

    r = u.Wsk({"action", "get", name});
    CHECK(r.code == 0);
    CHECK(Contains(r.out, "ok: got action " + name +
                              "\n{\n    \"namespace\": \"guest\",\n    \"name\": \"" + name +
                              "\""));
    r = u.Wsk({"action", "get", name, "--summary"});
    CHECK(r.out == "action /guest/" + name + "\n   (parameters: none defined)\n");
    r = u.Wsk({"action", "get", name, "--url"});
    CHECK(r.out == "ok: got action " + name + "\n" + Wisp().api_host() +
                       "/api/v1/namespaces/guest/actions/" + name + "\n");
    r = u.Wsk({"action", "get", name, "exec"});
    CHECK(Contains(r.out, "displaying field exec\n{\n    \"kind\": \"python:3.11\""));

    r = u.Wsk({"action", "list"});
    CHECK(r.code == 0);
    CHECK(Contains(r.out, "actions\n"));
    std::string row = "/guest/" + name;
    row.resize(70, ' ');
    CHECK(Contains(r.out, row + " private python:3.11\n"));

    r = u.Wsk({"action", "update", name, "--web", "true", "-m", "128"});
    INFO(r);
    CHECK(r.out == "ok: updated action " + name + "\n");
    r = u.Wsk({"action", "get", name, "--url"});
    CHECK(Contains(r.out, "/api/v1/web/guest/default/" + name + "\n"));

    r = u.Wsk({"action", "delete", name});
    CHECK(r.out == "ok: deleted action " + name + "\n");
}

TEST_CASE("wsk zip and native actions", "[e2e][wsk]") {
    const User& u = Configured();
    Run sh = u.Sh(
        "mkdir -p zipsrc && printf 'def main(args):\\n    return {\"zipped\": True, \"n\": "
        "args.get(\"n\")}\\n' > zipsrc/__main__.py && cd zipsrc && zip -q ../py.zip "
        "__main__.py");
    INFO(sh.out);
    REQUIRE(sh.code == 0);
    const std::string zipped = UniqueName("zipped");
    Run r = u.Wsk({"action", "create", zipped, "py.zip"});
    CHECK(r.code == 2);
    CHECK(r.err ==
          "error: Invalid argument(s). creating an action from a .zip artifact requires "
          "specifying the action kind explicitly\nRun 'wsk --help' for usage.\n");
    r = u.Wsk({"action", "create", zipped, "py.zip", "--kind", "python:3"});
    INFO(r);
    REQUIRE(r.code == 0);
    r = u.Wsk({"action", "invoke", zipped, "-r", "-p", "n", "5"});
    INFO(r);
    CHECK(r.out == "{\n    \"n\": 5,\n    \"zipped\": true\n}\n");

    WriteFile(u.File("native.c"),
              "#include <stdio.h>\n"
              "int main(int argc, char** argv) {\n"
              "    (void)argv;\n"
              "    fprintf(stderr, \"native says hi\\n\");\n"
              "    printf(\"{\\\"native\\\": true, \\\"argc\\\": %d}\\n\", argc);\n"
              "    return 0;\n"
              "}\n");
    sh = u.Sh(
        "(cc -static -O2 -o exec native.c || cc -O2 -o exec native.c) && rm -f native.zip "
        "&& zip -q native.zip exec");
    INFO(sh.out);
    REQUIRE(sh.code == 0);
    const std::string native = UniqueName("native");
    r = u.Wsk({"action", "create", native, "native.zip", "--native"});
    INFO(r);
    REQUIRE(r.code == 0);
    r = u.Wsk({"action", "invoke", native, "-r"});
    INFO(r);
    CHECK(r.code == 0);
    CHECK(Contains(r.out, "\"native\": true"));
    // The blocking result can arrive before the activation record (with its logs) is stored.
    for (int i = 0; i < 40; ++i) {
        r = u.Wsk({"activation", "logs", "--last", "--strip"});
        if (r.out == "native says hi\n") break;
        std::this_thread::sleep_for(250ms);
    }
    INFO(r);
    CHECK(r.out == "native says hi\n");
}

TEST_CASE("wsk trigger, rule, fire, and the activation commands", "[e2e][wsk]") {
    const User& u = Configured();
    const std::string action = UniqueName("updateInventory");
    const std::string trigger = UniqueName("itemSold");
    const std::string rule = UniqueName("saleRule");
    WriteFile(u.File("inventory.py"),
              "def main(args):\n"
              "    print('stock change', args.get('stock_change'), 'for', args.get('product_id'))\n"
              "    return {'product_id': args.get('product_id'), 'change': "
              "args.get('stock_change')}\n");
    REQUIRE(u.Wsk({"action", "create", action, "inventory.py"}).code == 0);

    Run r = u.Wsk({"trigger", "create", trigger, "--param", "stock_change", "-1"});
    INFO(r);
    REQUIRE(r.code == 0);
    CHECK(r.out == "ok: created trigger " + trigger + "\n");
    r = u.Wsk({"rule", "create", rule, trigger, action});
    INFO(r);
    REQUIRE(r.code == 0);
    CHECK(r.out == "ok: created rule " + rule + "\n");
    r = u.Wsk({"rule", "status", rule});
    CHECK(r.out == "ok: rule " + rule + " is active\n");

    r = u.Wsk({"trigger", "fire", trigger, "-p", "product_id", "42"});
    INFO(r);
    REQUIRE(r.code == 0);
    CHECK(std::regex_match(r.out,
                           std::regex("ok: triggered /_/" + trigger + " with id [0-9a-f]{32}\n")));

    const std::string trigger_activation = r.out.substr(r.out.size() - 33, 32);
    // The rule's action runs asynchronously: wait for its activation record.
    const std::regex action_row("([0-9a-f]{32}) python:3.11 [^\n]* guest/" + action + ":0.0.1\n");
    Run listed;
    std::smatch m;
    for (int i = 0; i < 120; ++i) {
        listed = u.Wsk({"activation", "list"});
        if (std::regex_search(listed.out, m, action_row)) break;
        std::this_thread::sleep_for(500ms);
    }
    INFO(listed);
    INFO(u.Wsk({"activation", "get", trigger_activation}));
    REQUIRE(std::regex_search(listed.out, m, action_row));
    const std::string action_activation = m[1].str();

    r = u.Wsk({"activation", "result", action_activation});
    INFO(r);
    CHECK(r.code == 0);
    CHECK(r.out == "{\n    \"change\": -1,\n    \"product_id\": 42\n}\n");

    // --last is the newest record: the rule's action, or the trigger's own record when both
    // started in the same instant.
    r = u.Wsk({"activation", "result", "--last"});
    INFO(r);
    CHECK(r.code == 0);
    Run newest = u.Wsk({"activation", "list", "--limit", "1"});
    std::smatch first;
    REQUIRE(std::regex_search(newest.out, first, std::regex("\n\\S+ \\S+ ([0-9a-f]{32}) ")));
    CHECK(r.out == u.Wsk({"activation", "result", first[1].str()}).out);

    r = u.Wsk({"activation", "list"});
    INFO(r);
    CHECK(r.code == 0);
    CHECK(std::regex_search(
        r.out, std::regex("^Datetime +Activation ID +Kind +Start Duration +Status +Entity\n")));
    CHECK(std::regex_search(r.out,
                            std::regex("\n\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d [0-9a-f]{32} "
                                       "python:3.11 +(cold|warm) +\\d+m?s +success +guest/" +
                                       action + ":0.0.1\n")));
    CHECK(std::regex_search(r.out, std::regex("[0-9a-f]{32} unknown +warm +0s +success +guest/" +
                                              trigger + ":0.0.1\n")));

    r = u.Wsk({"activation", "logs", action_activation});
    INFO(r);
    CHECK(std::regex_match(r.out,
                           std::regex(R"(\d{4}-\d\d-\d\dT[0-9:.]+Z +stdout: stock change -1 for 42
)")));
    r = u.Wsk({"activation", "logs", "--last"});
    CHECK(r.code == 0);
    r = u.Wsk({"activation", "get", action_activation});
    CHECK(std::regex_search(r.out, std::regex("^ok: got activation [0-9a-f]{32}\n\\{\n    "
                                              "\"namespace\": \"guest\",\n    \"name\": \"" +
                                              action + "\",")));

    r = u.Wsk({"activation", "poll", "--exit", "5", "--since-minutes", "5"});
    INFO(r);
    CHECK(r.code == 0);
    CHECK(Contains(r.out, "Enter Ctrl-c to exit.\nPolling for activation logs\n"));
    CHECK(Contains(r.out, "\nActivation: '" + action + "' ("));

    r = u.Wsk({"rule", "disable", rule});
    CHECK(r.out == "ok: disabled rule " + rule + "\n");
    r = u.Wsk({"rule", "list"});
    CHECK(Contains(r.out, "inactive\n"));
    r = u.Wsk({"trigger", "fire", trigger});
    CHECK(r.out == "ok: triggered /_/" + trigger + " with id \n");  // 204: no active rule
    r = u.Wsk({"rule", "delete", rule});
    CHECK(r.out == "ok: deleted rule " + rule + "\n");
    r = u.Wsk({"trigger", "delete", trigger});
    CHECK(r.out == "ok: deleted trigger " + trigger + "\n");
}

TEST_CASE("wsk packages, namespaces and wsk list", "[e2e][wsk]") {
    const User& u = Configured();
    const std::string pkg = UniqueName("pkg");
    Run r = u.Wsk({"package", "create", pkg, "-p", "greeting", "hi"});
    INFO(r);
    CHECK(r.out == "ok: created package " + pkg + "\n");
    r = u.Wsk({"package", "bind", pkg, pkg + "-bound"});
    INFO(r);
    CHECK(r.out == "ok: created binding " + pkg + "-bound\n");
    r = u.Wsk({"package", "list"});
    CHECK(Contains(r.out, "/guest/" + pkg));
    r = u.Wsk({"namespace", "list"});
    CHECK(r.out == "namespaces\nguest\n");
    r = u.Wsk({"list"});
    CHECK(Contains(r.out, "Entities in namespace: default\npackages\n"));
    r = u.Wsk({"package", "delete", pkg + "-bound"});
    CHECK(r.out == "ok: deleted package " + pkg + "-bound\n");
    r = u.Wsk({"package", "delete", pkg});
    CHECK(r.out == "ok: deleted package " + pkg + "\n");
}

TEST_CASE("wsk error paths: messages and exit codes", "[e2e][wsk]") {
    const User& u = Configured();
    Run r = u.Wsk({"action", "get", "no-such-action"});
    INFO(r);
    CHECK(r.code == 148);
    CHECK(std::regex_match(r.err, std::regex("error: Unable to get action 'no-such-action': The "
                                             "requested resource does not exist\\. \\(code "
                                             "[A-Za-z0-9]+\\)\nRun 'wsk --help' for usage\\.\n")));
    r = u.Wsk({"action", "invoke", "no-such-action", "-r"});
    CHECK(r.code == 148);
    CHECK(Contains(r.err, "error: Unable to invoke action 'no-such-action': "));

    const std::string name = UniqueName("dup");
    WriteFile(u.File("dup.py"), "def main(args):\n    return {}\n");
    REQUIRE(u.Wsk({"action", "create", name, "dup.py"}).code == 0);
    r = u.Wsk({"action", "create", name, "dup.py"});
    CHECK(r.code == 153);
    CHECK(Contains(
        r.err, "error: Unable to create action '" + name + "': resource already exists (code "));

    r = u.Wsk(
        {"-u", "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:" + std::string(64, 'x'), "action", "list"});
    CHECK(r.code == 145);
    CHECK(Contains(r.err, "error: Unable to obtain the list of actions for namespace 'default': "));
    CHECK(std::regex_search(r.err, kTid));

    WriteFile(u.File("fail.py"), "def main(args):\n    return {'error': 'boom'}\n");
    const std::string fail = UniqueName("fail");
    REQUIRE(u.Wsk({"action", "create", fail, "fail.py"}).code == 0);
    r = u.Wsk({"action", "invoke", fail, "-r"});
    CHECK(r.code == 246);
    CHECK(r.out.empty());
    CHECK(r.err == "{\n    \"error\": \"boom\"\n}\n");

    // Usage errors.
    r = u.Wsk({"action", "create"});
    CHECK(r.code == 1);
    CHECK(r.err ==
          "error: Invalid argument(s). An action name and code artifact are required.\nRun 'wsk "
          "--help' for usage.\n");
    r = u.Wsk({"action", "invoke", "x", "-p", "name"});
    CHECK(r.code == 1);
    CHECK(Contains(r.err, "Arguments for '-p' must be a key/value pair"));
    r = u.Wsk({"action", "create", "x", "missing.py"});
    CHECK(r.code == 2);
    CHECK(Contains(r.err, "File 'missing.py' is not a valid file or it does not exist"));
    r = u.Wsk({"action", "create", "x", "dup.py", "--kind", "python:3", "--docker", "a/b"});
    CHECK(r.code == 149);
    r = u.Wsk({"action", "list", "--no-such-flag"});
    CHECK(r.code == 2);
    CHECK(Contains(r.err, "Run 'wsk --help' for usage.\n"));
    r = u.Wsk({"--apihost", "http://127.0.0.1:1", "action", "list"});
    CHECK(r.code == 3);
}

TEST_CASE("wsk sdk install bashauto prints a completion script", "[e2e][wsk]") {
    User u;
    Run r = u.Wsk({"sdk", "install", "bashauto", "--stdout"});
    INFO(r);
    CHECK(r.code == 0);
    CHECK(Contains(r.out, "complete -o default -F _wsk_completions wsk"));
    CHECK(Contains(r.out, "\"action create\""));
    Run sh = u.Sh("bash -n -c " + ShellQuote(r.out));
    CHECK(sh.code == 0);
}

TEST_CASE("wsk trigger create/get/delete with the built-in alarms feed", "[e2e][wsk][alarms]") {
    const User& u = Configured();
    const std::string trigger = UniqueName("every10s");
    Run r = u.Wsk({"trigger", "create", trigger, "--feed", "/whisk.system/alarms/alarm", "-p",
                   "cron", "*/10 * * * * *"});
    INFO(r);
    REQUIRE(r.code == 0);
    CHECK(std::regex_search(
        r.out, std::regex("^ok: invoked /whisk.system/alarms/alarm with id [0-9a-f]{32}\n")));
    CHECK(Contains(r.out, "\"status\": \"success\""));
    CHECK(Contains(r.out, "ok: created trigger " + trigger + "\n"));

    // get: the feed's READ (the schedule's configuration and status).
    r = u.Wsk({"trigger", "get", trigger});
    INFO(r);
    CHECK(r.code == 0);
    CHECK(Contains(r.out, "\"cron\": \"*/10 * * * * *\""));
    CHECK(Contains(r.out, "\"name\": \"" + trigger + "\""));
    CHECK(Contains(r.out, "\"namespace\": \"guest\""));
    CHECK(Contains(r.out, "\"active\": true"));

    // A bad cron: the provider's text, and no trigger left behind.
    const std::string bad = UniqueName("badcron");
    r = u.Wsk(
        {"trigger", "create", bad, "--feed", "/whisk.system/alarms/alarm", "-p", "cron", "* * *"});
    INFO(r);
    CHECK(r.code == 246);
    CHECK(Contains(r.out + r.err, "cron pattern '* * *' is not valid"));
    r = u.Wsk({"trigger", "get", bad});
    CHECK(r.code == 148);

    // delete: the feed's DELETE removes the schedule, then the trigger goes.
    r = u.Wsk({"trigger", "delete", trigger});
    INFO(r);
    CHECK(r.code == 0);
    CHECK(Contains(r.out, "ok: deleted trigger " + trigger + "\n"));
    // The schedule is gone: a plain trigger of the same name has none to READ.
    REQUIRE(u.Wsk({"trigger", "create", trigger}).code == 0);
    r = u.Wsk({"action", "invoke", "/whisk.system/alarms/alarm", "-b", "-p", "lifecycleEvent",
               "READ", "-p", "triggerName", "/_/" + trigger, "-p", "authKey", Wisp().guest_auth()});
    INFO(r);
    CHECK(r.code == 246);
    CHECK(Contains(r.out + r.err, "could not find trigger /guest/" + trigger + " in the database"));
    CHECK(u.Wsk({"trigger", "delete", trigger}).code == 0);
}
