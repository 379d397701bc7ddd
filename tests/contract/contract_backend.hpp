#pragma once
// What a backend provides to the ArtifactStore contract suite (artifact_store_contract.cpp).
// Each backend's test binary links the suite with one <backend>_backend.cpp implementing these.
#include <memory>
#include <string>

#include <wisp/store/artifact_store.hpp>

namespace wisp::contract {

/// A new, empty store, independent of every store returned before (fresh database, or fresh
/// database names). Fails the running test (Catch2) when the backend cannot provide one.
/// Called once per test case; the returned store is destroyed at the end of the test case.
std::unique_ptr<store::ArtifactStore> MakeFreshStore();

/// "sqlite", "couchdb", ... (shown in test output).
std::string BackendName();

}  // namespace wisp::contract
