#pragma once
// The action proxy's request bodies (wire §5) as tests send them straight to a container,
// without an activation: /init with inline code, /run with a value and fixed metadata.
#include <string>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace wisp::testing {

/// {"value":{"name":<name>,"main":<main>,"binary":<binary>,"code":<code>,"env":{}}}
inline std::string ProxyInitBody(const std::string& code, bool binary = false,
                                 const std::string& main = "main",
                                 const std::string& name = "test") {
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    w.StartObject();
    w.Key("value");
    w.StartObject();
    w.Key("name");
    w.String(name.c_str(), static_cast<rapidjson::SizeType>(name.size()));
    w.Key("main");
    w.String(main.c_str(), static_cast<rapidjson::SizeType>(main.size()));
    w.Key("binary");
    w.Bool(binary);
    w.Key("code");
    w.String(code.c_str(), static_cast<rapidjson::SizeType>(code.size()));
    w.Key("env");
    w.StartObject();
    w.EndObject();
    w.EndObject();
    w.EndObject();
    return sb.GetString();
}

/// A /run body: `value_json` (a JSON object) for the action /guest/<action> of the guest
/// namespace, with a fixed activation id, transaction id and a far deadline.
inline std::string ProxyRunBody(const std::string& value_json, const std::string& action = "test") {
    return R"({"value":)" + value_json + R"(,"namespace":"guest","action_name":"/guest/)" + action +
           R"(","action_version":"0.0.1","activation_id":"0123456789abcdef0123456789abcdef",)"
           R"("transaction_id":"tid","deadline":"99999999999999"})";
}

}  // namespace wisp::testing
