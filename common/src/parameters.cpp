#include <wisp/common/parameters.hpp>

#include <algorithm>
#include <cstdlib>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <wisp/common/status.hpp>

#include "json_util.hpp"

namespace wisp::common {

Parameters::Parameters(std::vector<Parameter> items) {
    for (auto& p : items) {
        auto it = std::find_if(items_.begin(), items_.end(),
                               [&](const Parameter& q) { return q.key == p.key; });
        if (it != items_.end()) {
            *it = std::move(p);
        } else {
            items_.push_back(std::move(p));
        }
    }
}

const Parameter* Parameters::Find(std::string_view key) const {
    for (const auto& p : items_) {
        if (p.key == key) return &p;
    }
    return nullptr;
}

const JsonValue* Parameters::Get(std::string_view key) const {
    const Parameter* p = Find(key);
    return p ? &p->value : nullptr;
}

bool Parameters::IsTruthy(std::string_view key) const {
    const JsonValue* v = Get(key);
    if (v == nullptr) return false;
    const std::string& t = v->text();
    if (t == "false" || t == "null" || t == "\"\"") return false;
    if (!t.empty() && (t[0] == '-' || (t[0] >= '0' && t[0] <= '9'))) {
        return std::strtod(t.c_str(), nullptr) != 0.0;
    }
    return true;
}

void Parameters::Set(std::string_view key, JsonValue value, bool init) {
    for (auto& p : items_) {
        if (p.key == key) {
            p.value = std::move(value);
            p.init = init;
            return;
        }
    }
    items_.push_back(Parameter{std::string(key), std::move(value), init, std::nullopt});
}

bool Parameters::Remove(std::string_view key) {
    auto it = std::find_if(items_.begin(), items_.end(),
                           [&](const Parameter& p) { return p.key == key; });
    if (it == items_.end()) return false;
    items_.erase(it);
    return true;
}

Parameters Parameters::Merge(const Parameters& overrides) const {
    Parameters out = *this;
    for (const auto& p : overrides.items_) {
        auto it = std::find_if(out.items_.begin(), out.items_.end(),
                               [&](const Parameter& q) { return q.key == p.key; });
        if (it != out.items_.end()) {
            *it = p;
        } else {
            out.items_.push_back(p);
        }
    }
    return out;
}

std::vector<std::string> Parameters::InitKeys() const {
    std::vector<std::string> keys;
    for (const auto& p : items_) {
        if (p.init) keys.push_back(p.key);
    }
    return keys;
}

size_t Parameters::ByteSize() const {
    size_t n = 0;
    for (const auto& p : items_) n += p.key.size() + p.value.text().size();
    return n;
}

std::string Parameters::ToObjectJson() const {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    w.StartObject();
    for (const auto& p : items_) {
        w.Key(p.key.data(), static_cast<rapidjson::SizeType>(p.key.size()));
        w.RawValue(p.value.text().data(), p.value.text().size(), rapidjson::kObjectType);
    }
    w.EndObject();
    return std::string(buf.GetString(), buf.GetSize());
}

absl::StatusOr<Parameters> Parameters::FromObjectJson(std::string_view json) {
    rapidjson::Document parsed;
    WISP_RETURN_IF_ERROR(internal::ParseDocument(json, parsed));
    const rapidjson::Value& doc = parsed;  // const iterators: clang's C++20 rules
    if (!doc.IsObject()) {
        return internal::Malformed("the parameters must be a JSON object");
    }
    Parameters out;
    for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
        out.Set(internal::Text(it->name), JsonValue::FromRapid(it->value));
    }
    return out;
}

}  // namespace wisp::common
