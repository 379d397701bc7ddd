#include <wisp/store/couchdb_artifact_store.hpp>

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>

#include <wisp/common/entity_json.hpp>
#include <wisp/common/json.hpp>
#include <wisp/common/status.hpp>
#include <wisp/store/validation.hpp>

#include "couchdb_client.hpp"
#include "design_documents.hpp"

namespace wisp::store {

using common::Append;
using common::Cat;
using common::EntityType;
using couchdb::CouchDbClient;
using couchdb::Encode;
using couchdb::HttpResponse;

namespace {

// Bounds the read-modify-write loops that race with other writers (last writer wins).
constexpr int kMaxWriteRaces = 20;

[[nodiscard]] absl::Status CorruptDocument(std::string_view db, std::string_view id,
                                           const absl::Status& why) {
    return absl::InternalError(Cat("CouchDB document '", id, "' in database ", db,
                                   " cannot be read (", std::string(why.message()), ")"));
}

// A conflict in CouchDB's words: 409, or 400 "Invalid rev format" for a revision CouchDB could
// never have issued (certainly not the current one).
bool IsConflict(const HttpResponse& r) {
    return r.status == 409 || (r.status == 400 && r.body.find("rev") != std::string::npos);
}

// ---- JSON ----------------------------------------------------------------------------------

std::string Compact(const rapidjson::Value& v) { return common::ToCompactJson(v); }

std::string_view StringMember(const rapidjson::Value& v, const char* name) {
    if (!v.IsObject()) return {};
    auto it = v.FindMember(name);
    if (it == v.MemberEnd() || !it->value.IsString()) return {};
    return {it->value.GetString(), it->value.GetStringLength()};
}

bool ParseObject(std::string_view text, rapidjson::Document& doc) {
    return common::ParseJson(text, doc).ok() && doc.IsObject();
}

/// The stored document: `json` (an object) with `_id`, `_rev` (when given) and, when given,
/// `entityType` put first, as OpenWhisk writes them.
std::string MakeDocument(std::string_view json, std::string_view id, std::string_view rev,
                         std::string_view entity_type = {}) {
    rapidjson::Document body;
    if (!ParseObject(json, body)) body.SetObject();
    rapidjson::Document out;
    out.SetObject();
    auto& alloc = out.GetAllocator();
    out.AddMember("_id",
                  rapidjson::Value(id.data(), static_cast<rapidjson::SizeType>(id.size()), alloc),
                  alloc);
    if (!rev.empty()) {
        out.AddMember(
            "_rev",
            rapidjson::Value(rev.data(), static_cast<rapidjson::SizeType>(rev.size()), alloc),
            alloc);
    }
    if (!entity_type.empty()) {
        out.AddMember("entityType",
                      rapidjson::Value(entity_type.data(),
                                       static_cast<rapidjson::SizeType>(entity_type.size()), alloc),
                      alloc);
    }
    for (auto& m : body.GetObject()) {
        const std::string_view key(m.name.GetString(), m.name.GetStringLength());
        if (key == "_id" || key == "_rev" || (key == "entityType" && !entity_type.empty())) {
            continue;
        }
        out.AddMember(rapidjson::Value(m.name, alloc), rapidjson::Value(m.value, alloc), alloc);
    }
    return Compact(out);
}

/// `doc` without CouchDB's own members (`_id`, `_rev`, ...), as compact JSON.
std::string WithoutCouchMembers(const rapidjson::Value& doc) {
    rapidjson::Document out;
    out.SetObject();
    for (const auto& m : doc.GetObject()) {
        if (m.name.GetStringLength() > 0 && m.name.GetString()[0] == '_') continue;
        out.AddMember(rapidjson::Value(m.name, out.GetAllocator()),
                      rapidjson::Value(m.value, out.GetAllocator()), out.GetAllocator());
    }
    return Compact(out);
}

/// Whether the stored `doc` holds exactly what we tried to write (`ours`), ignoring `_rev`:
/// after an ambiguous retry, a 409 can be our own earlier attempt.
bool SameContent(const rapidjson::Value& doc, std::string_view ours) {
    rapidjson::Document mine;
    if (!ParseObject(ours, mine) || !doc.IsObject()) return false;
    mine.RemoveMember("_rev");
    rapidjson::Document theirs;
    theirs.CopyFrom(doc, theirs.GetAllocator());
    theirs.RemoveMember("_rev");
    return theirs == mine;
}

/// The entity type of a stored whisks document: its `entityType`, else (documents written by
/// old OpenWhisk versions) inferred from the fields as OpenWhisk's views do.
std::optional<EntityType> DocumentType(const rapidjson::Value& doc) {
    const std::string_view t = StringMember(doc, "entityType");
    if (t == "action") return EntityType::kAction;
    if (t == "trigger") return EntityType::kTrigger;
    if (t == "rule") return EntityType::kRule;
    if (t == "package") return EntityType::kPackage;
    if (!t.empty() || !doc.IsObject()) return std::nullopt;
    if (doc.HasMember("exec")) return EntityType::kAction;
    if (doc.HasMember("binding")) return EntityType::kPackage;
    if (doc.HasMember("trigger") && doc.HasMember("action")) return EntityType::kRule;
    if (doc.HasMember("parameters")) return EntityType::kTrigger;
    return std::nullopt;
}

bool IsSubjectDocument(const rapidjson::Value& doc) {
    return doc.IsObject() && doc.HasMember("subject") && doc.HasMember("namespaces");
}

std::string KeyJson(std::initializer_list<std::string_view> strings, bool open_end) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    w.StartArray();
    for (std::string_view s : strings)
        w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
    if (open_end) {
        w.StartObject();
        w.EndObject();
    }
    w.EndArray();
    return buf.GetString();
}

std::string KeyJson(std::string_view s, int64_t n) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    w.StartArray();
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
    w.Int64(n);
    w.EndArray();
    return buf.GetString();
}

// ---- a fetched document --------------------------------------------------------------------

struct Fetched {
    rapidjson::Document doc;
    std::string body;
    std::string rev;
};

}  // namespace

// ---- requests ------------------------------------------------------------------------------

namespace couchdb {
namespace {

std::string DocPath(std::string_view db, std::string_view id) {
    return Cat("/", db, "/", Encode(id));
}

/// GET a document: nullopt on 404.
[[nodiscard]] absl::StatusOr<std::optional<Fetched>> GetDocument(CouchDbClient& client,
                                                                 std::string_view db,
                                                                 std::string_view id) {
    WISP_ASSIGN_OR_RETURN(HttpResponse r, client.Request("GET", DocPath(db, id)));
    if (r.status == 404) return std::optional<Fetched>();
    if (r.status != 200) return client.Unexpected(r, Cat("GET ", db, "/", id));
    std::optional<Fetched> f(std::in_place);
    if (!ParseObject(r.body, f->doc)) {
        return CorruptDocument(db, id, absl::InternalError("not a JSON object"));
    }
    f->rev = std::string(StringMember(f->doc, "_rev"));
    f->body = std::move(r.body);
    return f;
}

struct WriteResult {
    bool conflict = false;
    bool ambiguous = false;
    std::string rev;
};

/// PUT a document. A conflict is a result, not an error.
[[nodiscard]] absl::StatusOr<WriteResult> PutDocument(CouchDbClient& client, std::string_view db,
                                                      std::string_view id, std::string_view body) {
    WISP_ASSIGN_OR_RETURN(HttpResponse r, client.Request("PUT", DocPath(db, id), body));
    WriteResult w;
    w.ambiguous = r.ambiguous;
    if (r.status == 201 || r.status == 202) {
        rapidjson::Document answer;
        if (ParseObject(r.body, answer)) w.rev = std::string(StringMember(answer, "rev"));
        return w;
    }
    if (IsConflict(r)) {
        w.conflict = true;
        return w;
    }
    return client.Unexpected(r, Cat("PUT ", db, "/", id));
}

/// DELETE a revision. A conflict (or pouchdb's 404 for a stale revision) is a result.
[[nodiscard]] absl::StatusOr<WriteResult> DeleteDocument(CouchDbClient& client, std::string_view db,
                                                         std::string_view id,
                                                         std::string_view rev) {
    WISP_ASSIGN_OR_RETURN(HttpResponse r,
                          client.Request("DELETE", Cat(DocPath(db, id), "?rev=", Encode(rev))));
    WriteResult w;
    w.ambiguous = r.ambiguous;
    if (r.status == 200 || r.status == 202) return w;
    if (IsConflict(r) || r.status == 404) {
        w.conflict = true;
        return w;
    }
    return client.Unexpected(r, Cat("DELETE ", db, "/", id));
}

/// Deletes whatever revision is current (`expected_rev` empty) or exactly `expected_rev`.
/// `accept(doc)` checks the document's kind first (NotFound/FailedPrecondition).
template <class Accept>
[[nodiscard]] absl::Status DeleteChecked(CouchDbClient& client, std::string_view db,
                                         std::string_view id, std::string_view expected_rev,
                                         Accept accept) {
    bool deleted_once = false;
    for (int race = 0; race < kMaxWriteRaces; ++race) {
        WISP_ASSIGN_OR_RETURN(auto current, GetDocument(client, db, id));
        // A retried DELETE that first succeeded unseen looks like a vanished document.
        if (!current) return deleted_once ? absl::OkStatus() : NotFound();
        WISP_RETURN_IF_ERROR(accept(current->doc));
        if (!expected_rev.empty() && current->rev != expected_rev) return Conflict();
        WISP_ASSIGN_OR_RETURN(WriteResult w, DeleteDocument(client, db, id, current->rev));
        if (!w.conflict) return absl::OkStatus();
        deleted_once = w.ambiguous;
    }
    return Conflict();
}

struct ViewQuery {
    std::string db, design, view;
    std::optional<std::string> key, startkey, endkey;  // JSON
    bool descending = false;
    bool reduce = false;
    bool include_docs = false;
    int64_t skip = 0;
    int64_t limit = 0;  // 0 = all
};

[[nodiscard]] absl::StatusOr<rapidjson::Document> QueryView(CouchDbClient& client,
                                                            const ViewQuery& q) {
    std::string path = Cat("/", q.db, "/_design/", q.design, "/_view/", q.view,
                           "?reduce=", q.reduce ? "true" : "false");
    if (q.include_docs) Append(path, "&include_docs=true");
    if (q.descending) Append(path, "&descending=true");
    if (q.key) Append(path, "&key=", Encode(*q.key));
    if (q.startkey) Append(path, "&startkey=", Encode(*q.startkey));
    if (q.endkey) Append(path, "&endkey=", Encode(*q.endkey));
    if (q.skip > 0) Append(path, "&skip=", q.skip);
    if (q.limit > 0) Append(path, "&limit=", q.limit);
    WISP_ASSIGN_OR_RETURN(HttpResponse r, client.Request("GET", path));
    const std::string what = Cat("view ", q.db, "/_design/", q.design, "/", q.view);
    if (r.status != 200) return client.Unexpected(r, what);
    rapidjson::Document doc;
    if (!ParseObject(r.body, doc) || !doc.HasMember("rows") || !doc["rows"].IsArray()) {
        return absl::InternalError(
            Cat("CouchDB at ", client.url(), " answered the ", what, " with no rows"));
    }
    return doc;
}

/// The `_count` of a reduced view query (0 when no row matched).
int64_t ReducedCount(const rapidjson::Document& result) {
    const auto& rows = result["rows"];
    if (rows.Empty()) return 0;
    const auto& v = rows[0]["value"];
    return v.IsInt64() ? v.GetInt64() : (v.IsNumber() ? static_cast<int64_t>(v.GetDouble()) : 0);
}

}  // namespace
}  // namespace couchdb

using couchdb::DeleteChecked;
using couchdb::GetDocument;
using couchdb::PutDocument;
using couchdb::QueryView;
using couchdb::ReducedCount;
using couchdb::ViewQuery;
using couchdb::WriteResult;

// ---- open ------------------------------------------------------------------------------------

CouchDbArtifactStore::CouchDbArtifactStore(CouchDbConfig config,
                                           std::unique_ptr<CouchDbClient> client)
    : config_(std::move(config)),
      client_(std::move(client)),
      whisks_db_(config_.db_prefix + "whisks"),
      subjects_db_(config_.db_prefix + "subjects"),
      activations_db_(config_.db_prefix + "activations"),
      journal_db_(config_.db_prefix + "activation_journal"),
      system_db_(config_.db_prefix + "system_docs") {}

CouchDbArtifactStore::~CouchDbArtifactStore() = default;

absl::StatusOr<std::unique_ptr<CouchDbArtifactStore>> CouchDbArtifactStore::Open(
    const CouchDbConfig& config) {
    if (config.url.empty()) {
        return absl::InvalidArgumentError("CouchDB URL is empty; set WISP_COUCHDB_URL");
    }
    auto client = std::make_unique<CouchDbClient>(config);
    std::unique_ptr<CouchDbArtifactStore> store(
        new CouchDbArtifactStore(config, std::move(client)));
    WISP_RETURN_IF_ERROR(store->EnsureDatabasesAndViews());
    return store;
}

absl::Status CouchDbArtifactStore::EnsureDatabasesAndViews() {
    CouchDbClient& client = *client_;
    for (const std::string* db :
         {&whisks_db_, &subjects_db_, &activations_db_, &journal_db_, &system_db_}) {
        WISP_ASSIGN_OR_RETURN(HttpResponse r, client.Request("PUT", Cat("/", *db)));
        // 201/202 created; 412 exists (also when a retried PUT created it first).
        if (r.status == 201 || r.status == 202 || r.status == 412) continue;
        if (r.status == 401 || r.status == 403) {
            // Not an admin: fine when an admin created the database already.
            WISP_ASSIGN_OR_RETURN(HttpResponse exists, client.Request("GET", Cat("/", *db)));
            if (exists.status == 200) continue;
            return absl::UnavailableError(
                Cat("CouchDB at ", client.url(), " refused to create database ", *db, " (HTTP ",
                    r.status, "); check WISP_COUCHDB_USERNAME and WISP_COUCHDB_PASSWORD"));
        }
        return client.Unexpected(r, Cat("PUT /", *db));
    }
    for (const couchdb::DesignDocument& d : couchdb::AllDesignDocuments()) {
        const std::string& db = d.db == couchdb::Database::kWhisks     ? whisks_db_
                                : d.db == couchdb::Database::kSubjects ? subjects_db_
                                                                       : activations_db_;
        const std::string id = Cat("_design/", d.name);
        const std::string path = Cat("/", db, "/", id);
        bool done = false;
        for (int race = 0; race < kMaxWriteRaces && !done; ++race) {
            WISP_ASSIGN_OR_RETURN(HttpResponse got, client.Request("GET", path));
            std::string rev;
            if (got.status == 200) {
                rapidjson::Document existing, wanted;
                if (ParseObject(got.body, existing) &&
                    ParseObject(couchdb::DesignDocumentJson(d), wanted) &&
                    existing.HasMember("views") && existing["views"] == wanted["views"]) {
                    done = true;
                    break;
                }
                rev = std::string(StringMember(existing, "_rev"));
            } else if (got.status != 404) {
                return client.Unexpected(got, Cat("GET ", db, "/", id));
            }
            WISP_ASSIGN_OR_RETURN(HttpResponse put,
                                  client.Request("PUT", path, couchdb::DesignDocumentJson(d, rev)));
            if (put.status == 201 || put.status == 202) {
                done = true;
            } else if ((put.status == 401 || put.status == 403) && !rev.empty()) {
                // Only admins write design documents; an older version still answers queries.
                spdlog::warn(
                    "CouchDB at {}: cannot update {} in {} (HTTP {}); keeping the "
                    "existing version, run once with admin credentials to update it",
                    client.url(), id, db, put.status);
                done = true;
            } else if (!IsConflict(put)) {
                return client.Unexpected(put, Cat("PUT ", db, "/", id));
            }  // else another process wrote it meanwhile: compare again
        }
        if (!done) {
            return absl::AbortedError(Cat("could not install design document ", id, " in ", db));
        }
    }
    return absl::OkStatus();
}

// ---- entities --------------------------------------------------------------------------------

absl::StatusOr<std::string> CouchDbArtifactStore::PutEntity(const common::WhiskEntity& entity,
                                                            std::string_view expected_rev) {
    const common::EntityHeader& header = common::HeaderOf(entity);
    const common::FullyQualifiedName fqn = header.Fqn();
    WISP_RETURN_IF_ERROR(ValidateFqn(fqn));
    const EntityType type = common::TypeOf(entity);
    const std::string id = fqn.DocId();
    const std::string body =
        MakeDocument(common::EntityToJson(entity), id, expected_rev, common::EntityTypeName(type));

    if (!expected_rev.empty()) {
        // CouchDB checks only the revision; an update must not turn the id into another type.
        WISP_ASSIGN_OR_RETURN(auto current, GetDocument(*client_, whisks_db_, id));
        if (!current) return Conflict();  // updating a document deleted meanwhile
        if (DocumentType(current->doc) != type) return TypeMismatch();
        if (current->rev != expected_rev) return Conflict();
    }
    for (int race = 0; race < kMaxWriteRaces; ++race) {
        WISP_ASSIGN_OR_RETURN(WriteResult w, PutDocument(*client_, whisks_db_, id, body));
        if (!w.conflict) return w.rev;
        // Conflict: tell a same-type duplicate, another type and a stale revision apart.
        WISP_ASSIGN_OR_RETURN(auto current, GetDocument(*client_, whisks_db_, id));
        if (!current) {
            if (!expected_rev.empty()) return Conflict();  // updating a document deleted meanwhile
            continue;                                      // deleted meanwhile: create again
        }
        if (w.ambiguous && SameContent(current->doc, body)) return current->rev;
        if (DocumentType(current->doc) != type) return TypeMismatch();
        return expected_rev.empty() ? Exists() : Conflict();
    }
    return Conflict();
}

absl::StatusOr<Revisioned<common::WhiskEntity>> CouchDbArtifactStore::GetEntity(
    EntityType type, const common::FullyQualifiedName& fqn) {
    WISP_RETURN_IF_ERROR(ValidateFqn(fqn));
    const std::string id = fqn.DocId();
    WISP_ASSIGN_OR_RETURN(auto current, GetDocument(*client_, whisks_db_, id));
    if (!current) return NotFound();
    if (DocumentType(current->doc) != type) return TypeMismatch();
    auto entity = common::EntityFromJson(type, current->body);
    if (!entity.ok()) return CorruptDocument(whisks_db_, id, entity.status());
    return Revisioned<common::WhiskEntity>{std::move(*entity), std::move(current->rev)};
}

absl::Status CouchDbArtifactStore::DeleteEntity(EntityType type,
                                                const common::FullyQualifiedName& fqn,
                                                std::string_view expected_rev) {
    WISP_RETURN_IF_ERROR(ValidateFqn(fqn));
    return DeleteChecked(*client_, whisks_db_, fqn.DocId(), expected_rev,
                         [type](const rapidjson::Value& doc) {
                             return DocumentType(doc) == type ? absl::OkStatus() : TypeMismatch();
                         });
}

absl::StatusOr<std::vector<common::WhiskEntity>> CouchDbArtifactStore::ListEntities(
    EntityType type, const common::EntityPath& path, const ListOptions& opts) {
    if (path.empty()) return absl::InvalidArgumentError("listing entities needs a namespace");
    WISP_RETURN_IF_ERROR(ValidatePage(opts.skip, opts.limit));
    const std::string key = path.ToString();
    ViewQuery q{.db = whisks_db_,
                .design = std::string(couchdb::kWhisksDesign),
                .view = std::string(common::EntityCollectionName(type))};
    q.startkey = KeyJson({key}, /*open_end=*/true);
    q.endkey = KeyJson({key}, /*open_end=*/false);
    q.descending = true;
    q.include_docs = true;
    q.skip = opts.skip;
    q.limit = opts.limit;
    WISP_ASSIGN_OR_RETURN(rapidjson::Document result, QueryView(*client_, q));
    std::vector<common::WhiskEntity> entities;
    for (const auto& row : result["rows"].GetArray()) {
        if (!row.HasMember("doc") || !row["doc"].IsObject()) continue;  // deleted meanwhile
        auto entity = common::EntityFromJson(type, Compact(row["doc"]));
        if (!entity.ok()) {
            return CorruptDocument(whisks_db_, StringMember(row, "id"), entity.status());
        }
        entities.push_back(std::move(*entity));
    }
    return entities;
}

absl::StatusOr<int64_t> CouchDbArtifactStore::CountEntities(EntityType type,
                                                            const common::EntityPath& path) {
    if (path.empty()) return absl::InvalidArgumentError("counting entities needs a namespace");
    const std::string key = path.ToString();
    ViewQuery q{.db = whisks_db_,
                .design = std::string(couchdb::kWhisksDesign),
                .view = std::string(common::EntityCollectionName(type))};
    q.startkey = KeyJson({key}, true);
    q.endkey = KeyJson({key}, false);
    q.descending = true;
    q.reduce = true;
    WISP_ASSIGN_OR_RETURN(rapidjson::Document result, QueryView(*client_, q));
    return ReducedCount(result);
}

// ---- subjects and identities -----------------------------------------------------------------

absl::StatusOr<Revisioned<common::Subject>> CouchDbArtifactStore::GetSubject(
    std::string_view subject) {
    if (subject.empty()) return NotFound();
    WISP_ASSIGN_OR_RETURN(auto current, GetDocument(*client_, subjects_db_, subject));
    if (!current || !IsSubjectDocument(current->doc)) return NotFound();
    auto doc = common::SubjectFromJson(current->body);
    if (!doc.ok()) return CorruptDocument(subjects_db_, subject, doc.status());
    return Revisioned<common::Subject>{std::move(*doc), std::move(current->rev)};
}

absl::StatusOr<std::string> CouchDbArtifactStore::PutSubject(const common::Subject& subject,
                                                             std::string_view expected_rev) {
    if (subject.subject.empty()) return absl::InvalidArgumentError("a subject needs a name");
    const std::string body =
        MakeDocument(common::SubjectToJson(subject), subject.subject, expected_rev);
    for (int race = 0; race < kMaxWriteRaces; ++race) {
        WISP_ASSIGN_OR_RETURN(WriteResult w,
                              PutDocument(*client_, subjects_db_, subject.subject, body));
        if (!w.conflict) return w.rev;
        WISP_ASSIGN_OR_RETURN(auto current, GetDocument(*client_, subjects_db_, subject.subject));
        if (!current) {
            if (!expected_rev.empty()) return Conflict();
            continue;
        }
        if (w.ambiguous && SameContent(current->doc, body)) return current->rev;
        return expected_rev.empty() ? Exists() : Conflict();
    }
    return Conflict();
}

absl::Status CouchDbArtifactStore::DeleteSubject(std::string_view subject,
                                                 std::string_view expected_rev) {
    if (subject.empty()) return NotFound();
    return DeleteChecked(*client_, subjects_db_, subject, expected_rev,
                         [](const rapidjson::Value& doc) {
                             return IsSubjectDocument(doc) ? absl::OkStatus() : NotFound();
                         });
}

absl::StatusOr<std::vector<common::Subject>> CouchDbArtifactStore::ListSubjects() {
    WISP_ASSIGN_OR_RETURN(
        HttpResponse r,
        client_->Request("GET", Cat("/", subjects_db_, "/_all_docs?include_docs=true")));
    if (r.status != 200) return client_->Unexpected(r, Cat("GET ", subjects_db_, "/_all_docs"));
    rapidjson::Document result;
    if (!ParseObject(r.body, result) || !result.HasMember("rows") || !result["rows"].IsArray()) {
        return absl::InternalError(Cat("CouchDB at ", client_->url(), " answered _all_docs of ",
                                       subjects_db_, " without rows"));
    }
    std::vector<common::Subject> subjects;
    for (const auto& row : result["rows"].GetArray()) {
        if (!row.HasMember("doc") || !IsSubjectDocument(row["doc"])) continue;
        auto subject = common::SubjectFromJson(Compact(row["doc"]));
        if (!subject.ok()) {
            return CorruptDocument(subjects_db_, StringMember(row, "id"), subject.status());
        }
        subjects.push_back(std::move(*subject));
    }
    std::sort(
        subjects.begin(), subjects.end(),
        [](const common::Subject& a, const common::Subject& b) { return a.subject < b.subject; });
    return subjects;
}

namespace {

/// An identity from a row of subjects.v2.0.0/identities queried with include_docs: `id` is the
/// subject, `value` {namespace, uuid, key}, `doc` the linked `<ns>/limits` (null when absent).
[[nodiscard]] absl::StatusOr<common::Identity> IdentityFromRow(const rapidjson::Value& row,
                                                               std::string_view db) {
    common::Identity identity;
    identity.subject = std::string(StringMember(row, "id"));
    const rapidjson::Value* value = row.HasMember("value") ? &row["value"] : nullptr;
    if (value == nullptr || !value->IsObject()) {
        return CorruptDocument(db, identity.subject,
                               absl::InternalError("identities view row without a value"));
    }
    identity.namespace_name = std::string(StringMember(*value, "namespace"));
    identity.auth = {std::string(StringMember(*value, "uuid")),
                     std::string(StringMember(*value, "key"))};
    if (row.HasMember("doc") && row["doc"].IsObject()) {
        auto limits = common::NamespaceLimitsFromJson(WithoutCouchMembers(row["doc"]));
        if (!limits.ok()) {
            return CorruptDocument(db, Cat(identity.namespace_name, "/limits"), limits.status());
        }
        identity.limits = std::move(*limits);
    }
    return identity;
}

}  // namespace

absl::StatusOr<common::Identity> CouchDbArtifactStore::GetIdentityByKey(
    const common::AuthKey& key) {
    ViewQuery q{.db = subjects_db_,
                .design = std::string(couchdb::kSubjectsDesign),
                .view = std::string(couchdb::kIdentitiesView)};
    q.key = KeyJson({key.uuid, key.key}, false);
    q.include_docs = true;
    q.limit = 1;
    WISP_ASSIGN_OR_RETURN(rapidjson::Document result, QueryView(*client_, q));
    const auto& rows = result["rows"];
    if (rows.Empty()) return NotFound();
    return IdentityFromRow(rows[0], subjects_db_);
}

absl::StatusOr<std::vector<common::Identity>> CouchDbArtifactStore::ListIdentitiesInNamespace(
    std::string_view ns) {
    ViewQuery q{.db = subjects_db_,
                .design = std::string(couchdb::kSubjectsDesign),
                .view = std::string(couchdb::kIdentitiesView)};
    q.key = KeyJson({ns}, false);
    q.include_docs = true;
    WISP_ASSIGN_OR_RETURN(rapidjson::Document result, QueryView(*client_, q));
    std::vector<common::Identity> identities;
    for (const auto& row : result["rows"].GetArray()) {
        WISP_ASSIGN_OR_RETURN(common::Identity identity, IdentityFromRow(row, subjects_db_));
        identities.push_back(std::move(identity));
    }
    return identities;
}

// ---- namespace limits ------------------------------------------------------------------------

absl::StatusOr<Revisioned<common::NamespaceLimits>> CouchDbArtifactStore::GetLimits(
    std::string_view ns) {
    if (ns.empty()) return NotFound();
    const std::string id = Cat(ns, "/limits");
    WISP_ASSIGN_OR_RETURN(auto current, GetDocument(*client_, subjects_db_, id));
    if (!current) return NotFound();
    auto limits = common::NamespaceLimitsFromJson(WithoutCouchMembers(current->doc));
    if (!limits.ok()) return CorruptDocument(subjects_db_, id, limits.status());
    return Revisioned<common::NamespaceLimits>{std::move(*limits), std::move(current->rev)};
}

absl::Status CouchDbArtifactStore::PutLimits(std::string_view ns,
                                             const common::NamespaceLimits& limits) {
    if (ns.empty()) return absl::InvalidArgumentError("limits need a namespace");
    const std::string id = Cat(ns, "/limits");
    const std::string json = common::NamespaceLimitsToJson(limits);
    std::string rev;  // first try a create; on conflict read the current revision
    for (int race = 0; race < kMaxWriteRaces; ++race) {
        WISP_ASSIGN_OR_RETURN(WriteResult w,
                              PutDocument(*client_, subjects_db_, id, MakeDocument(json, id, rev)));
        if (!w.conflict) return absl::OkStatus();
        WISP_ASSIGN_OR_RETURN(auto current, GetDocument(*client_, subjects_db_, id));
        rev = current ? current->rev : std::string();
    }
    return Conflict();
}

absl::Status CouchDbArtifactStore::DeleteLimits(std::string_view ns) {
    if (ns.empty()) return NotFound();
    return DeleteChecked(*client_, subjects_db_, Cat(ns, "/limits"), {},
                         [](const rapidjson::Value&) { return absl::OkStatus(); });
}

// ---- activations -----------------------------------------------------------------------------

absl::Status CouchDbArtifactStore::PutActivation(const common::ActivationRecord& record) {
    WISP_RETURN_IF_ERROR(ValidateActivationRecord(record));
    const std::string id = record.DocId();
    const std::string json = common::ActivationToJson(record, common::ActivationJsonForm::kStored);
    std::string rev;  // an idempotent replace: create, else overwrite the current revision
    for (int race = 0; race < kMaxWriteRaces; ++race) {
        WISP_ASSIGN_OR_RETURN(
            WriteResult w,
            PutDocument(*client_, activations_db_, id, MakeDocument(json, id, rev, "activation")));
        if (!w.conflict) return absl::OkStatus();
        WISP_ASSIGN_OR_RETURN(auto current, GetDocument(*client_, activations_db_, id));
        rev = current ? current->rev : std::string();
    }
    return absl::AbortedError(Cat("activation ", id, " kept changing while it was being stored"));
}

absl::Status CouchDbArtifactStore::CreateActivation(const common::ActivationRecord& record) {
    WISP_RETURN_IF_ERROR(ValidateActivationRecord(record));
    const std::string id = record.DocId();
    const std::string body =
        MakeDocument(common::ActivationToJson(record, common::ActivationJsonForm::kStored), id, "",
                     "activation");
    // A PUT without a revision creates or conflicts: CouchDB keeps the first writer's document.
    WISP_ASSIGN_OR_RETURN(WriteResult w, PutDocument(*client_, activations_db_, id, body));
    if (!w.conflict) return absl::OkStatus();
    if (w.ambiguous) {
        // A retried PUT whose first attempt succeeded unseen conflicts with itself.
        WISP_ASSIGN_OR_RETURN(auto current, GetDocument(*client_, activations_db_, id));
        if (current && SameContent(current->doc, body)) return absl::OkStatus();
    }
    return Exists();
}

absl::StatusOr<common::ActivationRecord> CouchDbArtifactStore::GetActivation(
    std::string_view ns, const common::ActivationId& id) {
    if (ns.empty() || id.empty()) return NotFound();
    const std::string doc_id = Cat(ns, "/", id.str());
    WISP_ASSIGN_OR_RETURN(auto current, GetDocument(*client_, activations_db_, doc_id));
    if (!current) return NotFound();
    auto record = common::ActivationFromJson(current->body);
    if (!record.ok()) return CorruptDocument(activations_db_, doc_id, record.status());
    return std::move(*record);
}

absl::Status CouchDbArtifactStore::DeleteActivation(std::string_view ns,
                                                    const common::ActivationId& id) {
    if (ns.empty() || id.empty()) return NotFound();
    return DeleteChecked(*client_, activations_db_, Cat(ns, "/", id.str()), {},
                         [](const rapidjson::Value&) { return absl::OkStatus(); });
}

namespace {

/// The view and key range of an activation query, newest first; nullopt when the range is
/// empty (since > upto).
std::optional<ViewQuery> ActivationView(const std::string& db, const ActivationQuery& q) {
    if (q.since_ms && q.upto_ms && *q.since_ms > *q.upto_ms) return std::nullopt;
    ViewQuery v{.db = db, .view = std::string(couchdb::kActivationsView)};
    std::string prefix;
    if (q.name) {
        v.design = std::string(couchdb::kActivationsFiltersDesign);
        prefix = Cat(q.namespace_name, "/", *q.name);
    } else {
        v.design = std::string(couchdb::kActivationsDesign);
        prefix = q.namespace_name;
    }
    v.descending = true;
    v.startkey = q.upto_ms ? KeyJson(prefix, *q.upto_ms) : KeyJson({prefix}, true);
    v.endkey = q.since_ms ? KeyJson(prefix, *q.since_ms) : KeyJson({prefix}, false);
    return v;
}

}  // namespace

absl::StatusOr<std::vector<common::ActivationRecord>> CouchDbArtifactStore::ListActivations(
    const ActivationQuery& q) {
    WISP_RETURN_IF_ERROR(ValidateActivationQuery(q));
    std::optional<ViewQuery> v = ActivationView(activations_db_, q);
    if (!v) return std::vector<common::ActivationRecord>();
    v->include_docs = true;
    v->skip = q.skip;
    v->limit = q.limit;
    WISP_ASSIGN_OR_RETURN(rapidjson::Document result, QueryView(*client_, *v));
    std::vector<common::ActivationRecord> records;
    for (const auto& row : result["rows"].GetArray()) {
        if (!row.HasMember("doc") || !row["doc"].IsObject()) continue;  // deleted meanwhile
        auto record = common::ActivationFromJson(Compact(row["doc"]));
        if (!record.ok()) {
            return CorruptDocument(activations_db_, StringMember(row, "id"), record.status());
        }
        records.push_back(std::move(*record));
    }
    return records;
}

absl::StatusOr<int64_t> CouchDbArtifactStore::CountActivations(const ActivationQuery& q) {
    WISP_RETURN_IF_ERROR(ValidateActivationQuery(q));
    std::optional<ViewQuery> v = ActivationView(activations_db_, q);
    if (!v) return 0;
    v->reduce = true;
    WISP_ASSIGN_OR_RETURN(rapidjson::Document result, QueryView(*client_, *v));
    return ReducedCount(result);
}

// ---- the journal of accepted activations -----------------------------------------------------

namespace {

std::string JournalDocId(const JournalEntry& e) {
    return Cat(e.controller, "/", e.record.activation_id.str());
}

/// A JSON string literal of `s`.
std::string JsonString(std::string_view s) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
    return buf.GetString();
}

/// POSTs `docs` (a JSON array body) to `_bulk_docs`; per document: its new rev, or empty when it
/// conflicted. Other per-document errors fail the whole call.
[[nodiscard]] absl::StatusOr<std::vector<std::string>> BulkDocs(CouchDbClient& client,
                                                                const std::string& db,
                                                                const std::string& docs_json,
                                                                size_t count) {
    WISP_ASSIGN_OR_RETURN(HttpResponse r, client.Request("POST", Cat("/", db, "/_bulk_docs"),
                                                         Cat("{\"docs\":", docs_json, "}")));
    if (r.status != 201 && r.status != 202 && r.status != 200) {
        return client.Unexpected(r, Cat("POST ", db, "/_bulk_docs"));
    }
    rapidjson::Document answer;
    if (!common::ParseJson(r.body, answer).ok() || !answer.IsArray() || answer.Size() != count) {
        return absl::InternalError(Cat("CouchDB at ", client.url(), " answered ", db,
                                       "/_bulk_docs with an unexpected body"));
    }
    std::vector<std::string> revs;
    for (const auto& row : answer.GetArray()) {
        const std::string_view error = StringMember(row, "error");
        if (error.empty()) {
            revs.emplace_back(StringMember(row, "rev"));
        } else if (error == "conflict") {
            revs.emplace_back();
        } else {
            return absl::InternalError(Cat("CouchDB at ", client.url(), " refused ", db,
                                           " document ", StringMember(row, "id"), ": ", error, " ",
                                           StringMember(row, "reason")));
        }
    }
    return revs;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> CouchDbArtifactStore::JournalRevisions(
    const std::vector<std::string>& ids) {
    std::string keys = "[";
    for (size_t i = 0; i < ids.size(); ++i) Append(keys, i ? "," : "", JsonString(ids[i]));
    keys += "]";
    WISP_ASSIGN_OR_RETURN(HttpResponse r,
                          client_->Request("POST", Cat("/", journal_db_, "/_all_docs"),
                                           Cat("{\"keys\":", keys, "}")));
    if (r.status != 200) return client_->Unexpected(r, Cat("POST ", journal_db_, "/_all_docs"));
    rapidjson::Document answer;
    if (!ParseObject(r.body, answer) || !answer.HasMember("rows") || !answer["rows"].IsArray() ||
        answer["rows"].Size() != ids.size()) {
        return absl::InternalError(Cat("CouchDB at ", client_->url(), " answered ", journal_db_,
                                       "/_all_docs with an unexpected body"));
    }
    std::vector<std::string> revs;
    for (const auto& row : answer["rows"].GetArray()) {
        std::string rev;
        if (row.HasMember("value") && row["value"].IsObject() &&
            !row["value"].HasMember("deleted")) {
            rev = std::string(StringMember(row["value"], "rev"));
        }
        revs.push_back(std::move(rev));
    }
    return revs;
}

absl::Status CouchDbArtifactStore::PutJournalEntries(std::vector<JournalEntry>& entries) {
    for (const JournalEntry& e : entries) WISP_RETURN_IF_ERROR(ValidateJournalEntry(e));
    std::vector<size_t> pending(entries.size());
    for (size_t i = 0; i < entries.size(); ++i) pending[i] = i;
    for (int race = 0; race < kMaxWriteRaces && !pending.empty(); ++race) {
        std::string docs = "[";
        for (size_t k = 0; k < pending.size(); ++k) {
            const JournalEntry& e = entries[pending[k]];
            rapidjson::StringBuffer buf;
            rapidjson::Writer<rapidjson::StringBuffer> w(buf);
            const std::string id = JournalDocId(e);
            w.StartObject();
            w.Key("_id");
            w.String(id.c_str(), static_cast<rapidjson::SizeType>(id.size()));
            if (!e.rev.empty()) {
                w.Key("_rev");
                w.String(e.rev.c_str(), static_cast<rapidjson::SizeType>(e.rev.size()));
            }
            w.Key("controller");
            w.String(e.controller.c_str(), static_cast<rapidjson::SizeType>(e.controller.size()));
            w.Key("recoverAfter");
            w.Int64(e.recover_after_ms);
            w.Key("record");
            const std::string record =
                common::ActivationToJson(e.record, common::ActivationJsonForm::kStored);
            w.RawValue(record.c_str(), record.size(), rapidjson::kObjectType);
            w.EndObject();
            Append(docs, k ? "," : "", buf.GetString());
        }
        docs += "]";
        WISP_ASSIGN_OR_RETURN(std::vector<std::string> revs,
                              BulkDocs(*client_, journal_db_, docs, pending.size()));
        std::vector<size_t> conflicted;
        std::vector<std::string> ids;
        for (size_t k = 0; k < pending.size(); ++k) {
            if (!revs[k].empty()) {
                entries[pending[k]].rev = revs[k];
            } else {
                conflicted.push_back(pending[k]);
                ids.push_back(JournalDocId(entries[pending[k]]));
            }
        }
        if (conflicted.empty()) return absl::OkStatus();
        // A replace (or an ambiguous retry of our own create): last writer wins.
        WISP_ASSIGN_OR_RETURN(std::vector<std::string> current, JournalRevisions(ids));
        for (size_t k = 0; k < conflicted.size(); ++k) entries[conflicted[k]].rev = current[k];
        pending = std::move(conflicted);
    }
    if (pending.empty()) return absl::OkStatus();
    return absl::AbortedError("journal entries kept changing while they were being written");
}

absl::StatusOr<std::vector<JournalEntry>> CouchDbArtifactStore::ListJournalEntries(
    std::string_view controller, int64_t limit) {
    if (limit < 0) return absl::InvalidArgumentError("limit must not be negative");
    const std::string prefix = Cat(controller, "/");
    std::string end = JsonString(prefix);
    end.insert(end.size() - 1, "\\ufff0");
    std::string path =
        Cat("/", journal_db_, "/_all_docs?include_docs=true&startkey=", Encode(JsonString(prefix)),
            "&endkey=", Encode(end));
    if (limit > 0) Append(path, "&limit=", limit);
    WISP_ASSIGN_OR_RETURN(HttpResponse r, client_->Request("GET", path));
    if (r.status != 200) return client_->Unexpected(r, Cat("GET ", journal_db_, "/_all_docs"));
    rapidjson::Document answer;
    if (!ParseObject(r.body, answer) || !answer.HasMember("rows") || !answer["rows"].IsArray()) {
        return absl::InternalError(Cat("CouchDB at ", client_->url(), " answered ", journal_db_,
                                       "/_all_docs with no rows"));
    }
    std::vector<JournalEntry> entries;
    for (const auto& row : answer["rows"].GetArray()) {
        if (!row.HasMember("doc") || !row["doc"].IsObject()) continue;  // deleted meanwhile
        const auto& doc = row["doc"];
        const std::string_view id = StringMember(doc, "_id");
        if (!doc.HasMember("record") || !doc["record"].IsObject() ||
            !doc.HasMember("recoverAfter") || !doc["recoverAfter"].IsInt64()) {
            return CorruptDocument(journal_db_, id, absl::InternalError("not a journal entry"));
        }
        auto record = common::ActivationFromJson(Compact(doc["record"]));
        if (!record.ok()) return CorruptDocument(journal_db_, id, record.status());
        entries.push_back(JournalEntry{std::string(controller), *std::move(record),
                                       doc["recoverAfter"].GetInt64(),
                                       std::string(StringMember(doc, "_rev"))});
    }
    return entries;
}

absl::Status CouchDbArtifactStore::RemoveJournalEntries(const std::vector<JournalEntry>& entries) {
    std::vector<std::string> ids, revs;
    for (const JournalEntry& e : entries) {
        ids.push_back(JournalDocId(e));
        revs.push_back(e.rev);
    }
    bool read_revisions = false;
    for (int race = 0; race < kMaxWriteRaces && !ids.empty(); ++race) {
        if (read_revisions ||
            std::any_of(revs.begin(), revs.end(), [](const std::string& r) { return r.empty(); })) {
            WISP_ASSIGN_OR_RETURN(revs, JournalRevisions(ids));
        }
        std::vector<std::string> live_ids, live_revs;
        for (size_t i = 0; i < ids.size(); ++i) {
            if (revs[i].empty()) continue;  // gone already
            live_ids.push_back(ids[i]);
            live_revs.push_back(revs[i]);
        }
        if (live_ids.empty()) return absl::OkStatus();
        std::string docs = "[";
        for (size_t i = 0; i < live_ids.size(); ++i) {
            Append(docs, i ? "," : "", "{\"_id\":", JsonString(live_ids[i]),
                   ",\"_rev\":", JsonString(live_revs[i]), ",\"_deleted\":true}");
        }
        docs += "]";
        WISP_ASSIGN_OR_RETURN(std::vector<std::string> done,
                              BulkDocs(*client_, journal_db_, docs, live_ids.size()));
        ids.clear();
        revs.clear();
        for (size_t i = 0; i < live_ids.size(); ++i) {
            if (!done[i].empty()) continue;
            ids.push_back(live_ids[i]);  // updated since it was read: read again
            revs.emplace_back();
        }
        read_revisions = true;
    }
    if (ids.empty()) return absl::OkStatus();
    return absl::AbortedError("journal entries kept changing while they were being removed");
}

// ---- group commit and retention -------------------------------------------------------------

absl::StatusOr<std::vector<absl::Status>> CouchDbArtifactStore::CreateActivations(
    std::span<const common::ActivationRecord> records) {
    std::vector<absl::Status> out(records.size());
    std::vector<size_t> valid;
    std::string docs = "[";
    for (size_t i = 0; i < records.size(); ++i) {
        out[i] = ValidateActivationRecord(records[i]);
        if (!out[i].ok()) continue;
        const std::string id = records[i].DocId();
        Append(
            docs, valid.empty() ? "" : ",",
            MakeDocument(common::ActivationToJson(records[i], common::ActivationJsonForm::kStored),
                         id, "", "activation"));
        valid.push_back(i);
    }
    docs += "]";
    if (valid.empty()) return out;
    // Without revisions, _bulk_docs creates or conflicts per document: the first writer's stays.
    WISP_ASSIGN_OR_RETURN(std::vector<std::string> revs,
                          BulkDocs(*client_, activations_db_, docs, valid.size()));
    for (size_t k = 0; k < valid.size(); ++k) {
        if (revs[k].empty()) out[valid[k]] = Exists();
    }
    return out;
}

absl::StatusOr<int64_t> CouchDbArtifactStore::DeleteActivationsBefore(int64_t cutoff_ms,
                                                                      int64_t limit) {
    if (limit <= 0) return absl::InvalidArgumentError("limit must be positive");
    const std::string view = Cat("/", activations_db_, "/_design/activations/_view/byDate");
    WISP_ASSIGN_OR_RETURN(HttpResponse r,
                          client_->Request("GET", Cat(view, "?endkey=", cutoff_ms,
                                                      "&inclusive_end=false&limit=", limit)));
    if (r.status != 200) return client_->Unexpected(r, Cat("GET ", view));
    rapidjson::Document answer;
    if (!ParseObject(r.body, answer) || !answer.HasMember("rows") || !answer["rows"].IsArray()) {
        return absl::InternalError(
            Cat("CouchDB at ", client_->url(), " answered ", view, " with no rows"));
    }
    std::vector<std::pair<std::string, std::string>> old;  // id, rev
    for (const auto& row : answer["rows"].GetArray()) {
        if (!row.HasMember("value") || !row["value"].IsArray() || row["value"].Size() != 2 ||
            !row["value"][0].IsString() || !row["value"][1].IsString()) {
            continue;
        }
        old.emplace_back(row["value"][0].GetString(), row["value"][1].GetString());
    }
    if (old.empty()) return 0;
    // _purge: CouchDB forgets the documents (no tombstones); at most 100 ids per request by
    // CouchDB's default [purge] max_document_id_number.
    constexpr size_t kPurgeChunk = 100;
    int64_t removed = 0;
    size_t next = 0;
    while (!purge_refused_.load() && next < old.size()) {
        const size_t end = std::min(old.size(), next + kPurgeChunk);
        std::string body = "{";
        for (size_t i = next; i < end; ++i) {
            Append(body, i > next ? "," : "", JsonString(old[i].first), ":[",
                   JsonString(old[i].second), "]");
        }
        body += "}";
        WISP_ASSIGN_OR_RETURN(HttpResponse p,
                              client_->Request("POST", Cat("/", activations_db_, "/_purge"), body));
        if (p.status != 200 && p.status != 201 && p.status != 202) {
            if (p.status >= 500 && p.status != 501) {
                return client_->Unexpected(p, Cat("POST ", activations_db_, "/_purge"));
            }
            spdlog::info(
                "activation retention: CouchDB at {} refused _purge on {} (HTTP {}); deleting "
                "expired records instead (their tombstones stay until the database is "
                "recreated)",
                client_->url(), activations_db_, p.status);
            purge_refused_ = true;
            break;
        }
        removed += static_cast<int64_t>(end - next);
        next = end;
    }
    if (next == old.size()) return removed;
    std::string docs = "[";
    for (size_t i = next; i < old.size(); ++i) {
        Append(docs, i > next ? "," : "", "{\"_id\":", JsonString(old[i].first),
               ",\"_rev\":", JsonString(old[i].second), ",\"_deleted\":true}");
    }
    docs += "]";
    WISP_ASSIGN_OR_RETURN(std::vector<std::string> done,
                          BulkDocs(*client_, activations_db_, docs, old.size() - next));
    // A conflict: replaced or deleted meanwhile (another sweeper); the next pass sees it again.
    for (const std::string& rev : done) removed += rev.empty() ? 0 : 1;
    return removed;
}

// ---- system documents ------------------------------------------------------------------------
// Database <prefix>system_docs, `_id` "<kind>/<id>" (a kind has no '/', so the split is
// unambiguous), `{kind, id, updated, body}`. Nothing else lives there: no entity, subject,
// limits, activation or journal id can collide, and no view of the other databases sees them.

namespace {

std::string SystemDocId(std::string_view kind, std::string_view id) { return Cat(kind, "/", id); }

/// The stored document; `doc.body` (validated: a JSON object) is spliced in as it is.
std::string SystemDocJson(const SystemDoc& doc, std::string_view rev) {
    const std::string id = SystemDocId(doc.kind, doc.id);
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    w.StartObject();
    w.Key("_id");
    w.String(id.data(), static_cast<rapidjson::SizeType>(id.size()));
    if (!rev.empty()) {
        w.Key("_rev");
        w.String(rev.data(), static_cast<rapidjson::SizeType>(rev.size()));
    }
    w.Key("kind");
    w.String(doc.kind.data(), static_cast<rapidjson::SizeType>(doc.kind.size()));
    w.Key("id");
    w.String(doc.id.data(), static_cast<rapidjson::SizeType>(doc.id.size()));
    w.Key("updated");
    w.Int64(doc.updated_ms);
    w.Key("body");
    w.RawValue(doc.body.data(), doc.body.size(), rapidjson::kObjectType);
    w.EndObject();
    return std::string(buf.GetString(), buf.GetSize());
}

[[nodiscard]] absl::StatusOr<SystemDoc> SystemDocFromCouch(const rapidjson::Value& doc,
                                                           std::string_view db) {
    const std::string_view couch_id = StringMember(doc, "_id");
    if (!doc.HasMember("body") || !doc["body"].IsObject() || !doc.HasMember("updated") ||
        !doc["updated"].IsInt64() || StringMember(doc, "kind").empty() ||
        StringMember(doc, "id").empty()) {
        return CorruptDocument(db, couch_id, absl::InternalError("not a system document"));
    }
    return SystemDoc{std::string(StringMember(doc, "kind")), std::string(StringMember(doc, "id")),
                     Compact(doc["body"]), doc["updated"].GetInt64(),
                     std::string(StringMember(doc, "_rev"))};
}

}  // namespace

absl::StatusOr<std::string> CouchDbArtifactStore::PutSystemDoc(const SystemDoc& doc,
                                                               std::string_view expected_rev) {
    WISP_RETURN_IF_ERROR(ValidateSystemDoc(doc));
    const std::string id = SystemDocId(doc.kind, doc.id);
    const std::string body = SystemDocJson(doc, expected_rev);
    // Create: PUT without _rev (CouchDB keeps the first writer's document, 409 for the others).
    // Update: PUT with _rev (409 when stale; 409 or 404 when the document is gone).
    WISP_ASSIGN_OR_RETURN(HttpResponse r,
                          client_->Request("PUT", Cat("/", system_db_, "/", Encode(id)), body));
    if (r.status == 201 || r.status == 202) {
        rapidjson::Document answer;
        if (ParseObject(r.body, answer) && !StringMember(answer, "rev").empty()) {
            return std::string(StringMember(answer, "rev"));
        }
        return absl::InternalError(Cat("CouchDB at ", client_->url(), " stored ", system_db_, "/",
                                       id, " but answered without its revision"));
    }
    if (!IsConflict(r) && !(r.status == 404 && !expected_rev.empty())) {
        return client_->Unexpected(r, Cat("PUT ", system_db_, "/", id));
    }
    if (r.ambiguous) {
        // A retried PUT whose first attempt succeeded unseen conflicts with itself.
        WISP_ASSIGN_OR_RETURN(auto current, GetDocument(*client_, system_db_, id));
        if (current && SameContent(current->doc, body)) return current->rev;
    }
    return expected_rev.empty() ? Exists() : Conflict();
}

absl::StatusOr<SystemDoc> CouchDbArtifactStore::GetSystemDoc(std::string_view kind,
                                                             std::string_view id) {
    WISP_RETURN_IF_ERROR(ValidateSystemDocKey(kind, id));
    WISP_ASSIGN_OR_RETURN(auto current, GetDocument(*client_, system_db_, SystemDocId(kind, id)));
    if (!current) return NotFound();
    return SystemDocFromCouch(current->doc, system_db_);
}

absl::Status CouchDbArtifactStore::DeleteSystemDoc(std::string_view kind, std::string_view id,
                                                   std::string_view expected_rev) {
    WISP_RETURN_IF_ERROR(ValidateSystemDocKey(kind, id));
    return DeleteChecked(*client_, system_db_, SystemDocId(kind, id), expected_rev,
                         [](const rapidjson::Value&) { return absl::OkStatus(); });
}

absl::StatusOr<std::vector<SystemDoc>> CouchDbArtifactStore::ListSystemDocs(
    std::string_view kind, std::string_view id_prefix, std::string_view after_id, int64_t limit) {
    WISP_ASSIGN_OR_RETURN(const int64_t max, ValidateSystemDocList(kind, limit));
    // _all_docs is sorted by raw (byte) comparison of the ids: "<kind>/<prefix>" up to that
    // followed by U+10FFFF, the greatest UTF-8 sequence, covers the prefix.
    const std::string lower = SystemDocId(kind, id_prefix);
    const std::string after = after_id.empty() ? std::string() : SystemDocId(kind, after_id);
    const bool from_after = !after.empty() && after > lower;
    std::string end = JsonString(lower);
    end.insert(end.size() - 1, "\\udbff\\udfff");
    // Greater than the prefix without starting with it: greater than every id with the prefix.
    if (from_after && after.compare(0, lower.size(), lower) != 0) return std::vector<SystemDoc>();
    const std::string path = Cat("/", system_db_, "/_all_docs?include_docs=true&startkey=",
                                 Encode(JsonString(from_after ? after : lower)),
                                 "&endkey=", Encode(end), "&limit=", max + (from_after ? 1 : 0));
    WISP_ASSIGN_OR_RETURN(HttpResponse r, client_->Request("GET", path));
    if (r.status != 200) return client_->Unexpected(r, Cat("GET ", system_db_, "/_all_docs"));
    rapidjson::Document answer;
    if (!ParseObject(r.body, answer) || !answer.HasMember("rows") || !answer["rows"].IsArray()) {
        return absl::InternalError(Cat("CouchDB at ", client_->url(), " answered ", system_db_,
                                       "/_all_docs with no rows"));
    }
    std::vector<SystemDoc> out;
    for (const auto& row : answer["rows"].GetArray()) {
        if (static_cast<int64_t>(out.size()) >= max) break;
        if (!row.HasMember("doc") || !row["doc"].IsObject()) continue;  // deleted meanwhile
        const std::string_view id = StringMember(row, "id");
        if (id.substr(0, lower.size()) != lower || (!after.empty() && id <= after)) continue;
        WISP_ASSIGN_OR_RETURN(SystemDoc doc, SystemDocFromCouch(row["doc"], system_db_));
        out.push_back(std::move(doc));
    }
    return out;
}

}  // namespace wisp::store
