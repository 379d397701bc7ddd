// Stored documents and API shapes: every *FromJson parser, then a write/read round trip that
// must reproduce the same value (what the stores rely on).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <wisp/common/entity_json.hpp>

#include "fuzz_check.hpp"

using namespace wisp::common;

namespace {

template <typename T, typename Parse, typename Write>
void RoundTrip(std::string_view in, Parse parse, Write write) {
    absl::StatusOr<T> v = parse(in);
    if (!v.ok()) {
        FUZZ_ASSERT(v.status().code() == absl::StatusCode::kInvalidArgument);
        return;
    }
    const std::string out = write(*v);
    absl::StatusOr<T> again = parse(out);
    FUZZ_ASSERT(again.ok());
    FUZZ_ASSERT(*again == *v);
    FUZZ_ASSERT(write(*again) == out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);

    RoundTrip<Action>(in, ActionFromJson, [](const Action& a) { return ActionToJson(a); });
    RoundTrip<Trigger>(in, TriggerFromJson, TriggerToJson);
    RoundTrip<Rule>(in, RuleFromJson, [](const Rule& r) { return RuleToJson(r); });
    RoundTrip<Package>(in, PackageFromJson, PackageToJson);
    RoundTrip<ActivationRecord>(in, ActivationFromJson, [](const ActivationRecord& r) {
        return ActivationToJson(r, ActivationJsonForm::kStored);
    });
    RoundTrip<ActivationRecord>(in, ActivationFromJson, [](const ActivationRecord& r) {
        return ActivationToJson(r, ActivationJsonForm::kApi);
    });
    RoundTrip<Subject>(in, SubjectFromJson, SubjectToJson);
    RoundTrip<NamespaceLimits>(in, NamespaceLimitsFromJson, NamespaceLimitsToJson);

    if (auto a = ActionFromJson(in); a.ok()) {
        (void)ActionToJson(*a, {.include_code = false});
        (void)EntityToJson(WhiskEntity(*a));
        (void)EntitySummaryToJson(WhiskEntity(*a));
    }
    if (auto r = ActivationFromJson(in); r.ok()) {
        (void)ActivationResultToJson(r->response);
        (void)ActivationSummaryToJson(*r);
        (void)r->FilterName();
        (void)r->DocId();
    }
    for (auto type :
         {EntityType::kAction, EntityType::kTrigger, EntityType::kRule, EntityType::kPackage}) {
        (void)EntityFromJson(type, in);
    }
    if (auto p = ParametersFromJson(in); p.ok()) {
        rapidjson::StringBuffer buf;
        JsonWriter w(buf);
        WriteParameters(w, *p);
        auto again = ParametersFromJson(std::string_view(buf.GetString(), buf.GetSize()));
        FUZZ_ASSERT(again.ok() && *again == *p);
        (void)p->ToObjectJson();
        (void)p->IsTruthy("a");
    }
    if (auto p = Parameters::FromObjectJson(in); p.ok()) {
        auto again = Parameters::FromObjectJson(p->ToObjectJson());
        FUZZ_ASSERT(again.ok() && *again == *p);
    }
    if (auto m = RuntimeManifest::FromJson(in); m.ok()) {
        for (const auto& k : m->kinds()) (void)m->ResolveKind(k.kind);
        (void)m->ResolveKind("nodejs:default");
    }
    return 0;
}
