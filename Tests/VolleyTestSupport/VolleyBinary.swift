import Foundation

/// Finds the built `volley` executable, for tests that spawn it.
///
/// In order: `VOLLEY_BIN`; a `volley` file next to the test bundle (SwiftPM puts executables and
/// the test bundle in the same build folder); `.build/debug/volley` under the package root.
public enum VolleyBinary {
    /// - Throws: ``HarnessError`` naming every place it looked, when none holds an executable.
    public static func url() throws -> URL {
        var candidates: [URL] = []
        if let explicit = ProcessInfo.processInfo.environment["VOLLEY_BIN"], !explicit.isEmpty {
            candidates.append(URL(fileURLWithPath: explicit))
        } else {
            if let bundle = CommandLine.arguments.first {
                candidates.append(URL(fileURLWithPath: bundle).deletingLastPathComponent().appendingPathComponent("volley"))
            }
            // This file, Tests/VolleyTestSupport/VolleyBinary.swift → the package root. (#filePath
            // in the body, not as a default argument: that would be the caller's file.)
            let root = URL(fileURLWithPath: #filePath)
                .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
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
