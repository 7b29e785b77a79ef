import Logging
import VolleyCore
import VolleySystem

/// swift-log handler writing one JSON object per line to stderr:
/// `{"ts": "...", "level": "info", "label": "volley", "message": "...", "metadata": {...}}`.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let level = event.level, message = event.message, explicit = event.metadata
        var object: JSONObject = [
            "ts": .string(iso8601(unixSeconds: unixTimeSeconds())),
            "level": .string(level.rawValue),
            "label": .string(label),
            "message": .string(message.description),
        ]
        let merged = metadata.merging(explicit ?? [:]) { $1 }
        if !merged.isEmpty {
            var fields: JSONObject = [:]
            for (key, value) in merged.sorted(by: { $0.key < $1.key }) { fields[key] = .string(value.description) }
            object["metadata"] = .object(fields)
        }
        var bytes = JSONValue.object(object).jsonBytes
        bytes.append(UInt8(ascii: "\n"))
        bytes.withUnsafeBytes { raw in writeAll(2, raw) }
    }
}
