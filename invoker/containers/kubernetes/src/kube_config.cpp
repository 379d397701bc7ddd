// Finding the API server: in-cluster service account, a kubeconfig's current context, or an
// explicit URL (LoadKubeConfig).
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <absl/strings/escaping.h>
#include <yaml-cpp/yaml.h>

#include <wisp/common/status.hpp>
#include <wisp/invoker/kubernetes_container_factory.hpp>

namespace wisp::invoker {
namespace {

namespace fs = std::filesystem;

bool ReadFile(const std::string& path, std::string& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    std::ostringstream s;
    s << in.rdbuf();
    out = s.str();
    return true;
}

std::string Trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    return s;
}

std::string Env(const char* name) {
    const char* v = std::getenv(name);
    return v != nullptr ? v : "";
}

std::string Scalar(const YAML::Node& node, const char* key) {
    if (!node || !node.IsMap()) return {};
    const YAML::Node v = node[key];
    return v && v.IsScalar() ? v.as<std::string>() : std::string();
}

// The entry called `name` of a kubeconfig list ("clusters", "users", "contexts"), its `field`.
YAML::Node Named(const YAML::Node& root, const char* list, const std::string& name,
                 const char* field) {
    const YAML::Node items = root[list];
    if (!items || !items.IsSequence()) return YAML::Node();
    for (const auto& item : items) {
        if (Scalar(item, "name") == name) return item[field];
    }
    return YAML::Node();
}

std::string Resolve(const std::string& base_dir, const std::string& path) {
    if (path.empty() || fs::path(path).is_absolute() || base_dir.empty()) return path;
    return (fs::path(base_dir) / path).string();
}

[[nodiscard]] absl::StatusOr<std::string> Base64(const std::string& data, const char* what) {
    std::string out;
    if (!absl::Base64Unescape(data, &out)) {
        return absl::InvalidArgumentError(std::string("the kubeconfig's ") + what +
                                          " is not valid base64");
    }
    return out;
}

}  // namespace

absl::StatusOr<KubeApiConfig> ParseKubeConfig(std::string_view text, const std::string& base_dir) {
    YAML::Node root;
    try {
        root = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
        return absl::InvalidArgumentError(std::string("the kubeconfig is not valid YAML: ") +
                                          e.what());
    }
    if (!root.IsMap()) return absl::InvalidArgumentError("the kubeconfig is not a YAML mapping");
    try {
        const std::string context_name = Scalar(root, "current-context");
        if (context_name.empty()) {
            return absl::InvalidArgumentError(
                "the kubeconfig has no current-context (set one with kubectl config use-context)");
        }
        const YAML::Node context = Named(root, "contexts", context_name, "context");
        if (!context || !context.IsMap()) {
            return absl::InvalidArgumentError("the kubeconfig has no context named '" +
                                              context_name + "'");
        }
        const std::string cluster_name = Scalar(context, "cluster");
        const std::string user_name = Scalar(context, "user");
        const YAML::Node cluster = Named(root, "clusters", cluster_name, "cluster");
        if (!cluster || !cluster.IsMap()) {
            return absl::InvalidArgumentError("the kubeconfig has no cluster named '" +
                                              cluster_name + "' (context '" + context_name + "')");
        }
        KubeApiConfig c;
        c.source = "kubeconfig context " + context_name;
        c.server = Scalar(cluster, "server");
        if (c.server.empty()) {
            return absl::InvalidArgumentError("the kubeconfig's cluster '" + cluster_name +
                                              "' has no server");
        }
        const std::string ns = Scalar(context, "namespace");
        if (!ns.empty()) c.ns = ns;
        c.insecure_skip_tls_verify = Scalar(cluster, "insecure-skip-tls-verify") == "true";
        if (std::string d = Scalar(cluster, "certificate-authority-data"); !d.empty()) {
            WISP_ASSIGN_OR_RETURN(c.ca_pem, Base64(d, "certificate-authority-data"));
        }
        c.ca_file = Resolve(base_dir, Scalar(cluster, "certificate-authority"));
        if (!user_name.empty()) {
            const YAML::Node user = Named(root, "users", user_name, "user");
            if (!user || !user.IsMap()) {
                return absl::InvalidArgumentError("the kubeconfig has no user named '" + user_name +
                                                  "'");
            }
            if (user["exec"] || user["auth-provider"]) {
                return absl::UnimplementedError(
                    "the kubeconfig user '" + user_name +
                    "' authenticates with an exec plugin or auth-provider, which the invoker "
                    "does not run: give it a token (a service account's) or a client certificate");
            }
            c.token = Scalar(user, "token");
            c.token_file = Resolve(base_dir, Scalar(user, "tokenFile"));
            if (std::string d = Scalar(user, "client-certificate-data"); !d.empty()) {
                WISP_ASSIGN_OR_RETURN(c.client_cert_pem, Base64(d, "client-certificate-data"));
            }
            if (std::string d = Scalar(user, "client-key-data"); !d.empty()) {
                WISP_ASSIGN_OR_RETURN(c.client_key_pem, Base64(d, "client-key-data"));
            }
            c.client_cert_file = Resolve(base_dir, Scalar(user, "client-certificate"));
            c.client_key_file = Resolve(base_dir, Scalar(user, "client-key"));
        }
        return c;
    } catch (const YAML::Exception& e) {
        return absl::InvalidArgumentError(std::string("the kubeconfig is not understood: ") +
                                          e.what());
    }
}

absl::StatusOr<KubeApiConfig> InClusterConfig(const std::string& dir) {
    const std::string host = Env("KUBERNETES_SERVICE_HOST");
    const std::string port = Env("KUBERNETES_SERVICE_PORT");
    if (host.empty()) {
        return absl::FailedPreconditionError(
            "not running in a Kubernetes pod ($KUBERNETES_SERVICE_HOST is not set): pass "
            "--kubeconfig or --kube-api");
    }
    KubeApiConfig c;
    c.source = "in-cluster service account " + dir;
    const bool v6 = host.find(':') != std::string::npos;
    c.server = "https://" + (v6 ? "[" + host + "]" : host) + ":" + (port.empty() ? "443" : port);
    c.token_file = dir + "/token";
    std::string token;
    if (!ReadFile(c.token_file, token) || Trim(token).empty()) {
        return absl::FailedPreconditionError(
            "no service account token at " + c.token_file +
            ": the invoker pod needs a service account with automountServiceAccountToken");
    }
    std::string ca;
    if (ReadFile(dir + "/ca.crt", ca)) c.ca_file = dir + "/ca.crt";
    std::string ns;
    if (ReadFile(dir + "/namespace", ns) && !Trim(ns).empty()) c.ns = Trim(ns);
    return c;
}

absl::StatusOr<KubeApiConfig> LoadKubeConfig(const KubeConfigSources& sources) {
    std::string kubeconfig = sources.kubeconfig;
    if (kubeconfig.empty()) {
        const std::string env = Env("KUBECONFIG");
        kubeconfig = env.substr(0, env.find(':'));
    }
    absl::StatusOr<KubeApiConfig> config;
    if (!kubeconfig.empty()) {
        std::string text;
        if (!ReadFile(kubeconfig, text)) {
            return absl::NotFoundError("cannot read the kubeconfig " + kubeconfig +
                                       " (--kubeconfig / $KUBECONFIG)");
        }
        config = ParseKubeConfig(text, fs::path(kubeconfig).parent_path().string());
        if (!config.ok()) {
            return absl::Status(config.status().code(),
                                kubeconfig + ": " + std::string(config.status().message()));
        }
        config->source = kubeconfig + " (" + config->source + ")";
    } else if (!Env("KUBERNETES_SERVICE_HOST").empty()) {
        config = InClusterConfig(sources.service_account_dir);
        if (!config.ok()) return config.status();
    } else if (const std::string home = Env("HOME");
               !home.empty() && fs::exists(home + "/.kube/config")) {
        KubeConfigSources again = sources;
        again.kubeconfig = home + "/.kube/config";
        return LoadKubeConfig(again);
    } else if (sources.api_url.empty()) {
        return absl::FailedPreconditionError(
            "no Kubernetes API to talk to: not in a pod, and no kubeconfig (pass --kubeconfig, "
            "set $KUBECONFIG, or --kube-api)");
    } else {
        config = KubeApiConfig{};
        config->source = "--kube-api";
        // A service-account token folder may still be there (e.g. tests, or a sidecar proxy).
        std::string token;
        if (ReadFile(sources.service_account_dir + "/token", token) && !Trim(token).empty()) {
            config->token_file = sources.service_account_dir + "/token";
        }
    }
    if (!sources.api_url.empty()) config->server = sources.api_url;
    if (!sources.ns.empty()) config->ns = sources.ns;
    if (config->server.empty()) {
        return absl::InvalidArgumentError("no Kubernetes API server URL (set --kube-api)");
    }
    return config;
}

}  // namespace wisp::invoker
