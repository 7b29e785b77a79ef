import FuzzSupport
import VolleyCore
import VolleyRun
import VolleySystem

// fuzz-run: an input file of `volley run`, line by line as its reader and line decoder take it
// (Volley items and OpenAI Batch lines), with the repeated-key check, and each line also read
// as a Batch output line when resuming.
//
// Input: byte 0 sets the command line's defaults (bit 0: `--model`, bit 1: `--timeout`, bit 2:
// Batch lines as raw calls); the rest is the file.
//
// Checks: an item line decodes to an item `Item.parse` accepts, keyed as the line says (or
// `line:<n>`), which writes as one line of JSON; repeated keys are told apart from keyless
// lines; nothing traps.

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let flags = input.byte()
    let defaults = LineDefaults(model: flags & 1 != 0 ? "m-default" : nil, timeoutSeconds: flags & 2 != 0 ? 30 : nil,
                                batchLinesAsRawCalls: flags & 4 != 0)
    var splitter = LineSplitter(maxLineBytes: 1 << 20, keepsBlankLines: true)
    var lines = splitter.feed(Array(input.rest))
    if let last = splitter.finish() { lines.append(last) }

    var keys = KeyLines()
    for (offset, event) in lines.enumerated() {
        let number = offset + 1
        guard case .line(let bytes) = event else { continue }
        let decoded = LineDecoder.decode(bytes, line: number, defaults: defaults)
        switch decoded {
        case .blank:
            require(bytes.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D } || number == 1, "a line with content decoded as blank")
        case .item(let key, let value, _):
            require(value["key"]?.stringValue == key, "item \(value) is not keyed \(key)")
            if case .failure(let error) = Item.parse(value) { require(false, "a decoded item is invalid: \(error.message)") }
            _ = requireJSONLine(value.jsonBytes, "an item")
        case .invalid(let key, let message, _):
            require(!message.isEmpty, "an invalid line without a message")
            _ = key
        }
        if let key = decoded.key, let first = keys.use(key, line: number) {
            require(first < number, "key \(key) of line \(number) first seen on line \(first)")
        }
        if case .object(let object)? = try? JSONParser.parse(bytes) {
            _ = BatchLine.journaled(object)
        }
    }
    return 0
}

@main
enum Main {
    static func main() { FuzzDriver.main(testOneInput) }
}
