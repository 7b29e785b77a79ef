/// Incremental server-sent-events parser: feed body bytes as they arrive, get whole events.
///
/// Lines end in `\n`, `\r\n` or `\r` (also when split across chunks); `:` lines are comments;
/// a blank line dispatches the event being built. Pure value type, no I/O.
public struct SSEParser: Sendable {
    private var line: [UInt8] = []
    private var lastByteWasCR = false
    private var eventName: String?
    private var dataLines: [String] = []
    private var hasData = false
    private var eventID: String?

    public init() {}

    /// Parses `bytes` and returns the events they complete, in order.
    public mutating func feed<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> [SSEEvent] {
        var events: [SSEEvent] = []
        var start = bytes.startIndex
        var index = start
        while index != bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") {
                let skipLF = byte == UInt8(ascii: "\n") && lastByteWasCR && start == index && line.isEmpty
                lastByteWasCR = byte == UInt8(ascii: "\r")
                if skipLF {
                    // The `\n` of a `\r\n` pair whose `\r` ended the previous chunk or line.
                    bytes.formIndex(after: &index)
                    start = index
                    continue
                }
                line.append(contentsOf: bytes[start..<index])
                if let event = processLine() { events.append(event) }
                line.removeAll(keepingCapacity: true)
                bytes.formIndex(after: &index)
                start = index
                if byte == UInt8(ascii: "\r"), index != bytes.endIndex, bytes[index] == UInt8(ascii: "\n") {
                    lastByteWasCR = false
                    bytes.formIndex(after: &index)
                    start = index
                }
                continue
            }
            lastByteWasCR = false
            bytes.formIndex(after: &index)
        }
        line.append(contentsOf: bytes[start..<bytes.endIndex])
        return events
    }

    private mutating func processLine() -> SSEEvent? {
        if line.isEmpty { return dispatch() }
        if line.first == UInt8(ascii: ":") { return nil }
        let field: Substring
        var value: Substring
        let text = String(decoding: line, as: UTF8.self)
        if let colon = text.firstIndex(of: ":") {
            field = text[..<colon]
            value = text[text.index(after: colon)...]
            if value.first == " " { value = value.dropFirst() }
        } else {
            field = Substring(text)
            value = ""
        }
        switch field {
        case "event": eventName = String(value)
        case "data":
            dataLines.append(String(value))
            hasData = true
        case "id": eventID = String(value)
        default: break  // "retry" and unknown fields are ignored.
        }
        return nil
    }

    private mutating func dispatch() -> SSEEvent? {
        defer {
            eventName = nil
            dataLines.removeAll(keepingCapacity: true)
            hasData = false
        }
        guard hasData else { return nil }  // As the spec says: no data, no event.
        return SSEEvent(event: eventName, data: dataLines.joined(separator: "\n"), id: eventID)
    }
}
