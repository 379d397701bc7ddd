// REST PUT bodies: Parse*Put must answer 400/413 or a value; Apply*Put (create and update)
// must then give an entity whose JSON reads back unchanged.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <wisp/common/entity_json.hpp>

#include "fuzz_check.hpp"

using namespace wisp::common;

namespace {

bool ExpectedError(const absl::Status& s) {
    return s.code() == absl::StatusCode::kInvalidArgument ||
           s.code() == absl::StatusCode::kOutOfRange ||
           s.code() == absl::StatusCode::kFailedPrecondition;
}

const FullyQualifiedName& Name() {
    static const FullyQualifiedName fqn = FullyQualifiedName::Parse("/guest/pkg/x", "").value();
    return fqn;
}

template <typename T, typename Apply, typename Write, typename Read>
void ApplyBoth(const T* existing, Apply apply, Write write, Read read) {
    for (const T* base : {static_cast<const T*>(nullptr), existing}) {
        auto e = apply(base);
        if (!e.ok()) {
            FUZZ_ASSERT(ExpectedError(e.status()));
            continue;
        }
        const std::string json = write(*e);
        auto back = read(json);
        FUZZ_ASSERT(back.ok());
        FUZZ_ASSERT(*back == *e);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    PutContext ctx;
    ctx.caller_namespace = "guest";
    ctx.system_limits.max_code_bytes = 4096;  // reachable 413s
    ctx.system_limits.max_parameter_bytes = 1024;

    if (auto put = ParseActionPut(in, ctx); put.ok()) {
        static const Action existing = [] {
            PutContext c;
            auto p = ParseActionPut(R"({"exec":{"kind":"sequence","components":["/guest/a"]}})", c);
            return ApplyActionPut(Name(), p.value(), nullptr, c).value();
        }();
        ApplyBoth<Action>(
            &existing, [&](const Action* b) { return ApplyActionPut(Name(), *put, b, ctx); },
            [](const Action& a) { return ActionToJson(a); }, ActionFromJson);
    } else {
        FUZZ_ASSERT(ExpectedError(put.status()));
    }

    if (auto put = ParseTriggerPut(in, ctx); put.ok()) {
        Trigger existing;
        existing.namespace_path = Name().path;
        existing.name = Name().name;
        ApplyBoth<Trigger>(
            &existing, [&](const Trigger* b) { return ApplyTriggerPut(Name(), *put, b, ctx); },
            TriggerToJson, TriggerFromJson);
    } else {
        FUZZ_ASSERT(ExpectedError(put.status()));
    }

    if (auto put = ParseRulePut(in, ctx); put.ok()) {
        Rule existing;
        existing.namespace_path = Name().path;
        existing.name = Name().name;
        existing.trigger = FullyQualifiedName::Parse("/guest/t", "").value();
        existing.action = FullyQualifiedName::Parse("/guest/a", "").value();
        ApplyBoth<Rule>(
            &existing, [&](const Rule* b) { return ApplyRulePut(Name(), *put, b, ctx); },
            [](const Rule& r) { return RuleToJson(r); }, RuleFromJson);
    } else {
        FUZZ_ASSERT(ExpectedError(put.status()));
    }

    if (auto put = ParsePackagePut(in, ctx); put.ok()) {
        Package existing;
        existing.namespace_path = Name().path;
        existing.name = Name().name;
        existing.binding = PackageBinding{"whisk.system", "utils"};
        ApplyBoth<Package>(
            &existing, [&](const Package* b) { return ApplyPackagePut(Name(), *put, b, ctx); },
            PackageToJson, PackageFromJson);
    } else {
        FUZZ_ASSERT(ExpectedError(put.status()));
    }
    return 0;
}
