#pragma once
// OpenArtifactStore(): a store URI to a backend. Its target, wisp::store_factory, links every
// backend (SQLite, CouchDB), so only programs link it (wisp-standalone, wisp-admin, tests, tools);
// libraries take an ArtifactStore& and never choose a backend.
#include <memory>
#include <string_view>

#include <absl/status/statusor.h>
#include <wisp/store/artifact_store.hpp>

namespace wisp::store {

/// Opens a store from a URI: "sqlite:PATH", "sqlite::memory:", "couchdb:http://user:pw@host:port"
/// (optional "?prefix=test_"). InvalidArgument on an unknown scheme; Unavailable when the
/// backend cannot be reached.
[[nodiscard]] absl::StatusOr<std::unique_ptr<ArtifactStore>> OpenArtifactStore(
    std::string_view uri);

}  // namespace wisp::store
