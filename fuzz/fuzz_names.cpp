// Names and ids from URLs and headers, and arbitrary JSON values.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <wisp/common/entity_path.hpp>
#include <wisp/common/exec.hpp>
#include <wisp/common/identity.hpp>
#include <wisp/common/ids.hpp>
#include <wisp/common/json.hpp>
#include <wisp/common/semver.hpp>

#include "fuzz_check.hpp"

using namespace wisp::common;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);

    FUZZ_ASSERT(IsValidEntityName(in) == ValidateEntityName(in).ok());

    if (auto p = EntityPath::Parse(in); p.ok()) {
        FUZZ_ASSERT(p->ToString() == in);
        FUZZ_ASSERT(p->segments().size() == 1 || p->segments().size() == 2);
        (void)p->Parent();
        (void)p->Resolve("guest");
        (void)p->PackageName();
    }
    for (std::string_view ns : {std::string_view("guest"), std::string_view("")}) {
        if (auto f = FullyQualifiedName::Parse(in, ns); f.ok()) {
            auto again = FullyQualifiedName::Parse(f->ToString(), ns);
            FUZZ_ASSERT(again.ok());
            FUZZ_ASSERT(*again == *f);
            (void)f->DocId();
        }
    }
    if (auto id = ActivationId::Parse(in); id.ok()) {
        FUZZ_ASSERT(id->str() == in && in.size() == 32);
    }
    if (auto k = AuthKey::Parse(in); k.ok()) {
        FUZZ_ASSERT(k->Compact() == in);
    }
    if (auto v = SemVer::Parse(in); v.ok()) {
        auto again = SemVer::Parse(v->ToString());
        FUZZ_ASSERT(again.ok() && *again == *v);
        (void)v->UpPatch();
    }
    if (auto j = JsonValue::Parse(in); j.ok()) {
        auto again = JsonValue::Parse(j->text());
        FUZZ_ASSERT(again.ok());
        FUZZ_ASSERT(again->text() == j->text());
        (void)j->AsString();
        (void)j->ToEnvString();
        rapidjson::Document doc;
        j->ToRapid(doc);
        (void)ToPrettyJson(doc);
    }
    (void)LooksLikeBinaryArchive(in);
    (void)RuntimeManifest::BuiltIn().ResolveKind(in);
    (void)MakeTransactionId(in);
    auto s = JsonValue::String(in);
    FUZZ_ASSERT(JsonValue::Parse(s.text()).ok());
    return 0;
}
