#include "whisk_client.hpp"

#include <sys/utsname.h>

#include <cstdio>
#include <iostream>

#include <curl/curl.h>

#include <wisp/common/base64.hpp>

#include "entity_args.hpp"
#include "json_out.hpp"

namespace wsk {
namespace {

int ExitCodeForStatus(int status) { return (status - 256) & 0xFF; }

std::string ConnectionFailed(int status) {
    return "The connection failed, or timed out. (HTTP status code " + std::to_string(status) + ")";
}

std::string ScalarText(const rapidjson::Value& v) {
    if (v.IsString()) return std::string(v.GetString(), v.GetStringLength());
    return CompactJson(v);
}

std::optional<WskError> ParseErrorResponse(int status, std::string_view body) {
    rapidjson::Document d;
    if (ParseJsonText(body, d).empty() && d.IsObject()) {
        const bool has_code = d.HasMember("code") && !d["code"].IsNull();
        const bool has_error = d.HasMember("error") && !d["error"].IsNull();
        if (!has_code && status == 502) {
            // An application error: an activation record, or a bare {"error": ...} result.
            if (d.HasMember("response") && d["response"].IsObject() &&
                d["response"].HasMember("status") && !d["response"]["status"].IsNull()) {
                const auto& response = d["response"];
                std::string msg;
                if (response.HasMember("result")) msg = ApplicationErrorMessage(response["result"]);
                WskError e{"The following application error was received: " + msg,
                           ExitCodeForStatus(status)};
                e.display_msg = false;
                e.application_error = true;
                return e;
            }
            if (has_error) {
                const auto& err = d["error"];
                WskError e{err.IsObject() ? ApplicationErrorMessage(d) : ScalarText(err),
                           ExitCodeForStatus(status)};
                e.display_msg = false;
                e.application_error = true;
                return e;
            }
        } else if (has_code && has_error) {
            return WskError{ScalarText(d["error"]) + " (code " + ScalarText(d["code"]) + ")",
                            ExitCodeForStatus(status)};
        }
    }
    return WskError{ConnectionFailed(status), ExitCodeForStatus(status)};
}

bool ResponseResultSuccess(std::string_view body) {
    rapidjson::Document d;
    if (!ParseJsonText(body, d).empty() || !d.IsObject()) return true;
    auto it = d.FindMember("response");
    if (it == d.MemberEnd() || !it->value.IsObject()) return true;
    auto s = it->value.FindMember("success");
    return s != it->value.MemberEnd() && s->value.IsBool() && s->value.GetBool();
}

size_t WriteBody(char* data, size_t size, size_t n, void* user) {
    static_cast<std::string*>(user)->append(data, size * n);
    return size * n;
}

std::string UserAgent() {
    struct utsname u {};
    std::string os = "linux";
    std::string arch = "amd64";
    if (uname(&u) == 0) {
        const std::string m = u.machine;
        if (m == "aarch64")
            arch = "arm64";
        else if (m != "x86_64")
            arch = m;
    }
    return "OpenWhisk-CLI/1.0 (wisp) " + os + " " + arch;
}

}  // namespace

std::string ApplicationErrorMessage(const rapidjson::Value& result) {
    if (!result.IsObject()) return ScalarText(result);
    auto it = result.FindMember("error");
    if (it == result.MemberEnd()) return CompactJson(result);
    const auto& err = it->value;
    if (!err.IsObject()) return ScalarText(err);
    std::string msg;
    for (auto& m : err.GetObject()) {
        if (!m.value.IsString()) continue;
        if (!msg.empty()) msg += "; ";
        msg += m.value.GetString();
    }
    return msg.empty() ? CompactJson(err) : msg;
}

std::optional<WskError> ClassifyResponse(int status, std::string_view body,
                                         const RequestOptions& options) {
    const bool success = status >= 200 && status <= 299;
    if (!success && body.empty()) {
        return WskError{"Command failed due to an HTTP failure", ExitCodeForStatus(status)};
    }
    if (!success) return ParseErrorResponse(status, body);
    if (!body.empty() && !options.activation_record && !options.result_only &&
        !ResponseResultSuccess(body)) {
        return ParseErrorResponse(status, body);
    }
    if (options.exit_on_timeout && status == 202) {
        WskError e{"Request accepted, but processing not completed yet.", kExitTimedOut};
        e.display_msg = false;
        e.timed_out = true;
        return e;
    }
    return std::nullopt;
}

std::string EscapePath(std::string_view s) {
    static const char* kHex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '@' ||
            c == '/' || c == ':') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
    return out;
}

std::string EscapeQuery(std::string_view s) {
    static const char* kHex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
    return out;
}

Result<HttpResponse> WhiskClient::Send(const std::string& method, const std::string& url,
                                       const std::optional<std::string>& body, bool with_auth) {
    CURL* curl = curl_easy_init();
    if (curl == nullptr) return WskError{"Unable to initialize server connection", kExitNetwork};
    std::string response_body;
    std::string response_headers;
    curl_slist* headers = nullptr;
    std::vector<std::string> header_lines;
    if (with_auth && !config_.auth.empty()) {
        header_lines.push_back("Authorization: Basic " + wisp::common::Base64Encode(config_.auth));
    }
    if (body) header_lines.push_back("Content-Type: application/json");
    header_lines.push_back("User-Agent: " + UserAgent());
    header_lines.push_back("Expect:");
    for (const auto& h : header_lines) headers = curl_slist_append(headers, h.c_str());

    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, WriteBody);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response_body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, WriteBody);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response_headers);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 30L);
    if (body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body->data());
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
    }
    if (config_.insecure) {
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (!config_.cert.empty()) curl_easy_setopt(curl, CURLOPT_SSLCERT, config_.cert.c_str());
    if (!config_.key.empty()) curl_easy_setopt(curl, CURLOPT_SSLKEY, config_.key.c_str());

    if (config_.verbose) {
        std::cout << "REQUEST:\n[" << method << "]\t" << url << "\nReq Headers\n";
        for (const auto& h : header_lines) {
            if (h != "Expect:") std::cout << h << "\n";
        }
        if (body) std::cout << "Req Body\n" << *body << "\n";
    }
    if (config_.debug) std::cerr << "[wsk]\t" << method << " " << url << "\n";

    const CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    if (rc != CURLE_OK) {
        std::string m = method;
        for (size_t i = 1; i < m.size(); ++i) m[i] = static_cast<char>(std::tolower(m[i]));
        return WskError{m + " \"" + url + "\": " + curl_easy_strerror(rc), kExitNetwork};
    }
    if (config_.verbose) {
        std::cout << "RESPONSE:Got response with code " << status << "\nResp Headers\n";
        // The status line and headers as received, without the blank line.
        std::string h = response_headers;
        while (!h.empty() && (h.back() == '\n' || h.back() == '\r')) h.pop_back();
        for (char& c : h) {
            if (c == '\r') c = ' ';
        }
        std::cout << h << "\nResponse body size is " << response_body.size()
                  << "\nResponse body received:\n"
                  << response_body << "\n";
    }
    HttpResponse r;
    r.status = static_cast<int>(status);
    r.body = std::move(response_body);
    if (!r.body.empty()) {
        if (!ParseJsonText(r.body, r.json).empty()) r.json.SetNull();
    }
    return r;
}

Result<HttpResponse> WhiskClient::Do(const std::string& method, const std::string& path,
                                     const std::optional<std::string>& body,
                                     const RequestOptions& options) {
    auto base = ApiBaseUrl(config_.apihost);
    if (!base.ok()) {
        WskError e = base.error();
        e.message = "The API host is not valid: " + e.message;
        return e;
    }
    if (options.auth_required && config_.auth.empty()) {
        WskError e = WskError::Usage("Authorization key is not configured (--auth is required)");
        return e;
    }
    auto r = Send(method, *base + "/" + config_.apiversion + "/" + path, body, true);
    if (!r.ok()) return r;
    last_.status = r->status;
    last_.body = r->body;
    last_.json.CopyFrom(r->json, last_.json.GetAllocator());
    if (auto err = ClassifyResponse(r->status, r->body, options)) return *err;
    return r;
}

Result<HttpResponse> WhiskClient::Info() {
    auto base = ApiBaseUrl(config_.apihost);
    if (!base.ok()) return base.error();
    auto r = Send("GET", *base + "/" + config_.apiversion, std::nullopt, false);
    if (!r.ok()) return r;
    if (auto err = ClassifyResponse(r->status, r->body, {})) return *err;
    return r;
}

Result<HttpResponse> WhiskClient::Root() {
    auto base = ApiBaseUrl(config_.apihost);
    if (!base.ok()) return base.error();
    std::string root = *base;
    root.erase(root.size() - 4);  // "/api"
    auto r = Send("GET", root + "/", std::nullopt, false);
    if (!r.ok()) return r;
    if (auto err = ClassifyResponse(r->status, r->body, {})) return *err;
    return r;
}

}  // namespace wsk
