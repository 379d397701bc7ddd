#include <wisp/common/exec.hpp>

#include "builtin_runtimes.hpp"

#include <algorithm>

#include <sys/utsname.h>

#include <rapidjson/document.h>

#include <wisp/common/base64.hpp>
#include <wisp/common/platform_arch.hpp>
#include <wisp/common/status.hpp>

#include "json_util.hpp"

#include <wisp/common/strings.hpp>

namespace wisp::common {

std::string ExecKind(const Exec& exec) {
    struct Visitor {
        std::string operator()(const CodeExec& c) const { return c.kind; }
        std::string operator()(const BlackboxExec&) const { return std::string(kBlackboxKind); }
        std::string operator()(const SequenceExec&) const { return std::string(kSequenceKind); }
    };
    return std::visit(Visitor{}, exec);
}

bool LooksLikeBinaryArchive(std::string_view code) {
    std::string_view t = Trim(code);
    // Validated whole as java.util.Base64.getDecoder() does; only the head is decoded.
    const std::optional<std::string> decoded = Base64DecodePrefix(t, 4, Base64Mode::kPadded);
    if (!decoded) return false;
    const std::string& head = *decoded;
    if (head.size() >= 4 && head[0] == 'P' && head[1] == 'K' &&
        ((head[2] == '\x03' && head[3] == '\x04') || (head[2] == '\x05' && head[3] == '\x06') ||
         (head[2] == '\x07' && head[3] == '\x08'))) {
        return true;  // zip or jar
    }
    if (head.size() >= 2 && head[0] == '\x1f' && head[1] == '\x8b') return true;  // gzip (tgz)
    return false;
}

RuntimeManifest::RuntimeManifest(std::vector<Kind> kinds, std::vector<std::string> aliases_from,
                                 std::vector<std::string> aliases_to,
                                 std::vector<Blackbox> blackboxes)
    : kinds_(std::move(kinds)),
      alias_from_(std::move(aliases_from)),
      alias_to_(std::move(aliases_to)),
      blackboxes_(std::move(blackboxes)) {
    WISP_CHECK(alias_from_.size() == alias_to_.size());
}

const RuntimeManifest& RuntimeManifest::BuiltIn() {
    static const RuntimeManifest manifest = [] {
        auto parsed = FromJson(internal::kBuiltInRuntimesJson);
        WISP_CHECK(parsed.ok());  // runtimes/runtimes.json is checked by the unit tests
        return *std::move(parsed);
    }();
    return manifest;
}

std::string WithDefaultTag(std::string_view image) {
    const size_t slash = image.rfind('/');
    const size_t colon = image.rfind(':');
    const bool tagged =
        colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash);
    const bool digest = image.find('@') != std::string_view::npos;
    if (tagged || digest) return std::string(image);
    return Cat(image, ":latest");
}

namespace {

// "openwhisk/action-nodejs-v20:nightly" from {"prefix","name","tag"} (registry ignored).
std::string ImageName(const rapidjson::Value& image) {
    if (image.IsString()) return internal::Text(image);
    if (!image.IsObject()) return {};
    std::string out;
    auto str = [&](const char* key) -> std::string {
        auto it = image.FindMember(key);
        if (it == image.MemberEnd() || !it->value.IsString()) return {};
        return internal::Text(it->value);
    };
    std::string prefix = str("prefix"), name = str("name"), tag = str("tag");
    if (name.empty()) return {};
    if (!prefix.empty()) out = prefix + "/";
    out += name;
    if (!tag.empty()) out += ":" + tag;
    return out;
}

// "256 MB", "1 GB", "512M" -> MB; -1 when malformed.
int64_t MemoryMb(std::string_view text) {
    std::string digits;
    size_t i = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') digits += text[i++];
    while (i < text.size() && text[i] == ' ') ++i;
    int64_t n = 0;
    if (digits.empty() || digits.size() > 9 || !ParseInt(digits, n)) return -1;
    const std::string unit = AsciiLower(text.substr(i));
    if (unit == "mb" || unit == "m") return n;
    if (unit == "gb" || unit == "g") return n * 1024;
    return -1;
}

}  // namespace

absl::StatusOr<RuntimeManifest> RuntimeManifest::FromJson(std::string_view json) {
    rapidjson::Document parsed;
    WISP_RETURN_IF_ERROR(internal::ParseDocument(json, parsed));
    const rapidjson::Value& doc = parsed;  // const iterators: clang's C++20 rules
    auto bad = [](std::string_view why) {
        return absl::InvalidArgumentError(Cat("The runtime manifest is invalid: ", why));
    };
    if (!doc.IsObject()) return bad("the document must be an object");
    std::vector<Kind> kinds;
    std::vector<std::string> from, to;
    std::vector<Blackbox> blackboxes;
    auto runtimes = doc.FindMember("runtimes");
    if (runtimes == doc.MemberEnd() || !runtimes->value.IsObject()) {
        return bad("'runtimes' must be an object of families");
    }
    for (auto fam = runtimes->value.MemberBegin(); fam != runtimes->value.MemberEnd(); ++fam) {
        if (!fam->value.IsArray()) return bad("every runtime family must be an array");
        const std::string family(internal::View(fam->name));
        std::string family_default;
        for (const auto& k : fam->value.GetArray()) {
            if (!k.IsObject()) return bad("every runtime must be an object");
            auto kind_it = k.FindMember("kind");
            if (kind_it == k.MemberEnd() || !kind_it->value.IsString()) {
                return bad("every runtime needs a string 'kind'");
            }
            Kind kind;
            kind.kind = internal::Text(kind_it->value);
            if (auto it = k.FindMember("image"); it != k.MemberEnd()) {
                kind.image = ImageName(it->value);
            }
            auto flag = [&](const char* key) {
                auto it = k.FindMember(key);
                return it != k.MemberEnd() && it->value.IsBool() && it->value.GetBool();
            };
            kind.is_default = flag("default");
            kind.requires_main = flag("requireMain");
            kind.deprecated = flag("deprecated");
            if (auto it = k.FindMember("aliases"); it != k.MemberEnd()) {
                if (!it->value.IsArray()) return bad("'aliases' must be an array of kinds");
                for (const auto& alias : it->value.GetArray()) {
                    if (!alias.IsString()) return bad("'aliases' must be an array of kinds");
                    from.push_back(internal::Text(alias));
                    to.push_back(kind.kind);
                }
            }
            if (auto it = k.FindMember("stemCells"); it != k.MemberEnd()) {
                if (!it->value.IsArray()) return bad("'stemCells' must be an array");
                for (const auto& cell : it->value.GetArray()) {
                    if (!cell.IsObject()) return bad("every stem cell must be an object");
                    StemCell sc;
                    auto count = cell.FindMember("initialCount");
                    auto memory = cell.FindMember("memory");
                    if (count == cell.MemberEnd() || !count->value.IsInt() ||
                        count->value.GetInt() < 0 || memory == cell.MemberEnd() ||
                        !memory->value.IsString()) {
                        return bad("a stem cell needs 'initialCount' and 'memory' (\"256 MB\")");
                    }
                    sc.count = count->value.GetInt();
                    sc.memory_mb = MemoryMb(internal::View(memory->value));
                    if (sc.memory_mb <= 0)
                        return bad("a stem cell's memory must be like \"256 MB\"");
                    kind.stem_cells.push_back(sc);
                }
            }
            if (kind.is_default) family_default = kind.kind;
            kinds.push_back(std::move(kind));
        }
        if (!family_default.empty()) {
            from.push_back(family + ":default");
            to.push_back(family_default);
        }
    }
    if (auto bb = doc.FindMember("blackboxes"); bb != doc.MemberEnd()) {
        if (!bb->value.IsArray()) return bad("'blackboxes' must be an array");
        for (const auto& b : bb->value.GetArray()) {
            std::string image = ImageName(b);
            if (image.empty()) return bad("every blackbox needs a 'name'");
            Blackbox box{WithDefaultTag(image), WithDefaultTag(image)};
            if (b.IsObject()) {
                if (auto it = b.FindMember("localImage"); it != b.MemberEnd()) {
                    std::string local = ImageName(it->value);
                    if (local.empty()) return bad("'localImage' needs a 'name'");
                    box.local_image = WithDefaultTag(local);
                }
            }
            blackboxes.push_back(std::move(box));
        }
    }
    return RuntimeManifest(std::move(kinds), std::move(from), std::move(to), std::move(blackboxes));
}

RuntimeManifest RuntimeManifest::ForMachine(std::string_view machine) const {
    RuntimeManifest m = *this;
    for (auto& k : m.kinds_) k.image = ImageForMachine(k.image, machine);
    for (auto& b : m.blackboxes_) b.local_image = ImageForMachine(b.local_image, machine);
    return m;
}

std::string ImageForMachine(std::string_view image, std::string_view machine) {
    constexpr std::string_view kSuffix = "-arm64";
    if (machine != "aarch64" && machine != "arm64") return std::string(image);
    if (image.find('@') != std::string_view::npos) return std::string(image);
    std::string tagged = WithDefaultTag(image);
    if (tagged.ends_with(kSuffix)) return tagged;
    return Cat(tagged, kSuffix);
}

std::string HostMachine() {
    struct utsname u {};
    if (uname(&u) != 0) return {};
    return u.machine;
}

std::string PlatformArch(std::string_view machine) {
    if (machine == "x86_64") return "amd64";
    if (machine == "aarch64" || machine == "arm64") return "arm64";
    return std::string(machine);
}

const RuntimeManifest::Blackbox* RuntimeManifest::FindBlackbox(std::string_view image) const {
    const std::string tagged = WithDefaultTag(image);
    for (const auto& b : blackboxes_) {
        if (b.image == tagged) return &b;
    }
    return nullptr;
}

absl::StatusOr<std::string> RuntimeManifest::ResolveKind(std::string_view kind) const {
    if (Find(kind) != nullptr) return std::string(kind);
    for (size_t i = 0; i < alias_from_.size(); ++i) {
        if (alias_from_[i] == kind) return alias_to_[i];
    }
    std::vector<std::string> valid;
    for (const auto& k : kinds_) valid.push_back(k.kind);
    for (const auto& a : alias_from_) valid.push_back(a);
    valid.emplace_back(kBlackboxKind);
    valid.emplace_back(kSequenceKind);
    std::sort(valid.begin(), valid.end());
    std::string list;
    for (size_t i = 0; i < valid.size(); ++i) {
        if (i > 0) list += ", ";
        list += "'" + valid[i] + "'";
    }
    return absl::InvalidArgumentError(
        Cat("The specified runtime '", kind,
            "' is not supported by this platform. Valid values are: ", list, "."));
}

const RuntimeManifest::Kind* RuntimeManifest::Find(std::string_view concrete_kind) const {
    for (const auto& k : kinds_) {
        if (k.kind == concrete_kind) return &k;
    }
    return nullptr;
}

}  // namespace wisp::common
