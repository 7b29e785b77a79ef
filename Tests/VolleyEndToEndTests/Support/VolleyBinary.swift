import Foundation

/// Finds the built `volley` executable.
///
/// In order: `VOLLEY_BIN`; a `volley` file next to the test bundle (SwiftPM puts executables and
/// the test bundle in the same build folder); `.build/debug/volley` under the package root.
enum VolleyBinary {
    static func url(filePath: String = #filePath) throws -> URL {
        var candidates: [URL] = []
        if let explicit = ProcessInfo.processInfo.environment["VOLLEY_BIN"], !explicit.isEmpty {
            candidates.append(URL(fileURLWithPath: explicit))
        } else {
            if let bundle = CommandLine.arguments.first {
                candidates.append(URL(fileURLWithPath: bundle).deletingLastPathComponent().appendingPathComponent("volley"))
            }
            // Tests/VolleyEndToEndTests/Support/VolleyBinary.swift → the package root.
            let root = URL(fileURLWithPath: filePath)
                .deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().deletingLastPathComponent()
            candidates.append(root.appendingPathComponent(".build/debug/volley"))
        }
        for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate.path) {
            return candidate
        }
        throw HarnessError("""
            the volley executable was not found (looked at \(candidates.map(\.path).joined(separator: ", "))); \
            build it with `swift build --build-tests`, or set VOLLEY_BIN to its path
            """)
    }
}
