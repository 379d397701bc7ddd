#include "put_body.hpp"

#include "command_support.hpp"
#include "json_out.hpp"

namespace wsk {

using rapidjson::Value;

PutBody::PutBody()
    : doc_(rapidjson::kObjectType),
      parameters_(rapidjson::kArrayType),
      annotations_(rapidjson::kArrayType) {}

void PutBody::SetName(const QualifiedName& q, bool with_namespace) {
    if (with_namespace) Add("namespace", Value(q.ns.c_str(), alloc()));
    Add("name", Value(q.entity_name.c_str(), alloc()));
}

void PutBody::Add(const char* key, Value value) {
    doc_.AddMember(Value(key, alloc()), value, alloc());
}

void PutBody::AddLast(const char* key, Value value) { last_.emplace_back(key, std::move(value)); }

Status PutBody::AddParameters(const std::vector<std::string>& texts) {
    return KeyValues(texts, parameters_, alloc(), false);
}

Status PutBody::AddAnnotations(const std::vector<std::string>& texts) {
    return KeyValues(texts, annotations_, alloc(), true);
}

std::string PutBody::Finish() {
    auto& a = alloc();
    if (!annotations_.Empty()) doc_.AddMember("annotations", annotations_, a);
    if (!del_annotations_.empty()) {
        Value del(rapidjson::kArrayType);
        for (const auto& k : del_annotations_) del.PushBack(Value(k.c_str(), a), a);
        doc_.AddMember("delAnnotations", del, a);
    }
    if (!parameters_.Empty()) doc_.AddMember("parameters", parameters_, a);
    const Limits& l = limits_;
    if (l.timeout || l.memory || l.logs || l.concurrency) {
        Value limits(rapidjson::kObjectType);
        if (l.timeout) limits.AddMember("timeout", *l.timeout, a);
        if (l.memory) limits.AddMember("memory", *l.memory, a);
        if (l.logs) limits.AddMember("logs", *l.logs, a);
        if (l.concurrency) limits.AddMember("concurrency", *l.concurrency, a);
        doc_.AddMember("limits", limits, a);
    }
    for (auto& [key, value] : last_) doc_.AddMember(Value(key.c_str(), a), value, a);
    last_.clear();
    return CompactJson(doc_);
}

}  // namespace wsk
