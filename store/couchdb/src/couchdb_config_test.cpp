// Unit tests of the CouchDB backend that need no server: URI parsing, id encoding, views.
#include <cstdlib>
#include <optional>
#include <string>

#include <rapidjson/document.h>
#include <catch2/catch.hpp>
#include <wisp/common/bounded_json.hpp>

#include <wisp/store/couchdb_artifact_store.hpp>

#include "couchdb_client.hpp"
#include "design_documents.hpp"

using wisp::store::CouchDbConfig;

namespace {

/// Sets an environment variable for the scope of a test.
class ScopedEnv {
  public:
    ScopedEnv(const char* name, const char* value) : name_(name) {
        if (const char* old = std::getenv(name); old != nullptr) old_ = old;
        if (value != nullptr) {
            ::setenv(name, value, 1);
        } else {
            ::unsetenv(name);
        }
    }
    ~ScopedEnv() {
        if (old_.has_value()) {
            ::setenv(name_, old_->c_str(), 1);
        } else {
            ::unsetenv(name_);
        }
    }

  private:
    const char* name_;
    std::optional<std::string> old_;
};

}  // namespace

TEST_CASE("FromUri parses credentials, host, port and prefix", "[couchdb][config]") {
    ScopedEnv u("WISP_COUCHDB_USERNAME", nullptr);
    ScopedEnv p("WISP_COUCHDB_PASSWORD", nullptr);
    auto c = CouchDbConfig::FromUri("http://admin:s3cret@db.example:5984?prefix=test_");
    REQUIRE(c.ok());
    CHECK(c->url == "http://db.example:5984");
    CHECK(c->username == "admin");
    CHECK(c->password == "s3cret");
    CHECK(c->db_prefix == "test_");
    CHECK(c->max_retries == 5);
}

TEST_CASE("FromUri accepts the couchdb: scheme prefix, a path and tuning parameters",
          "[couchdb][config]") {
    auto c = CouchDbConfig::FromUri(
        "couchdb:https://u:p%40ss%3Aword@127.0.0.1:6984/couch/?prefix=a1_&max_retries=2&"
        "connect_timeout_ms=250&request_timeout_ms=1000&initial_backoff_ms=10");
    REQUIRE(c.ok());
    CHECK(c->url == "https://127.0.0.1:6984/couch");
    CHECK(c->username == "u");
    CHECK(c->password == "p@ss:word");
    CHECK(c->db_prefix == "a1_");
    CHECK(c->max_retries == 2);
    CHECK(c->connect_timeout_ms == 250);
    CHECK(c->request_timeout_ms == 1000);
    CHECK(c->initial_backoff_ms == 10);
}

TEST_CASE("FromUri takes credentials from the environment only when the URI has none",
          "[couchdb][config]") {
    ScopedEnv u("WISP_COUCHDB_USERNAME", "envuser");
    ScopedEnv p("WISP_COUCHDB_PASSWORD", "envpass");
    auto from_env = CouchDbConfig::FromUri("http://127.0.0.1:5984");
    REQUIRE(from_env.ok());
    CHECK(from_env->username == "envuser");
    CHECK(from_env->password == "envpass");
    auto from_uri = CouchDbConfig::FromUri("http://me:mine@127.0.0.1:5984");
    REQUIRE(from_uri.ok());
    CHECK(from_uri->username == "me");
    CHECK(from_uri->password == "mine");
}

TEST_CASE("FromUri rejects malformed URIs without echoing the password", "[couchdb][config]") {
    for (const char* uri :
         {"ftp://u:topsecretpw@h:1", "http://u:topsecretpw@",
          "http://u:topsecretpw@h:1?prefix=Upper", "http://u:topsecretpw@h:1?bogus=1",
          "http://u:topsecretpw@h:1?max_retries=-1", "http://u:top%zzsecretpw@h"}) {
        INFO(uri);
        auto c = CouchDbConfig::FromUri(uri);
        REQUIRE_FALSE(c.ok());
        CHECK(c.status().code() == absl::StatusCode::kInvalidArgument);
        CHECK(c.status().message().find("topsecretpw") == std::string_view::npos);
        CHECK(c.status().message().find("secretpw") == std::string_view::npos);
    }
}

TEST_CASE("document ids are percent-encoded as one path segment", "[couchdb]") {
    using wisp::store::couchdb::Encode;
    CHECK(Encode("guest/pkg/hello") == "guest%2Fpkg%2Fhello");
    CHECK(Encode("a b&c@d.e-f_g~h") == "a%20b%26c%40d.e-f_g~h");
    CHECK(Encode("[\"x\",{}]") == "%5B%22x%22%2C%7B%7D%5D");
}

TEST_CASE("design documents are valid JSON with OpenWhisk's names", "[couchdb]") {
    using namespace wisp::store::couchdb;
    bool saw_identities = false;
    for (const DesignDocument& d : AllDesignDocuments()) {
        const std::string json = DesignDocumentJson(d, "1-abc");
        rapidjson::Document doc;
        REQUIRE(wisp::json::ParseBounded(json, doc).empty());
        CHECK(std::string(doc["_id"].GetString()) == "_design/" + std::string(d.name));
        CHECK(std::string(doc["_rev"].GetString()) == "1-abc");
        CHECK(std::string(doc["language"].GetString()) == "javascript");
        for (const ViewSpec& v : d.views) {
            const auto& view = doc["views"][std::string(v.name).c_str()];
            CHECK(std::string(view["map"].GetString()).rfind("function (doc)", 0) == 0);
        }
        if (d.name == kSubjectsDesign) saw_identities = doc["views"].HasMember("identities");
    }
    CHECK(saw_identities);
}
