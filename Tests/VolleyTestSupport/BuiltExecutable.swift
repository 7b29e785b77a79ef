import Foundation

/// Finds an executable this package builds, for tests that spawn it.
///
/// In order: the override variable, when set (and then only it); a file of that name next to
/// the test bundle (SwiftPM puts executables and the test bundle in the same build folder);
/// `.build/debug/NAME` under the package root.
public enum BuiltExecutable {
    /// The `volley` sidecar; `VOLLEY_BIN` overrides where it is.
    public static func volley() throws -> URL {
        try url(named: "volley", overrideVariable: "VOLLEY_BIN")
    }

    /// - Throws: ``HarnessError`` naming every place it looked, when none holds an executable.
    public static func url(named name: String, overrideVariable: String? = nil) throws -> URL {
        var candidates: [URL] = []
        if let overrideVariable, let explicit = ProcessInfo.processInfo.environment[overrideVariable], !explicit.isEmpty {
            candidates.append(URL(fileURLWithPath: explicit))
        } else {
            if let bundle = CommandLine.arguments.first {
                candidates.append(URL(fileURLWithPath: bundle).deletingLastPathComponent().appendingPathComponent(name))
            }
            // This file, Tests/VolleyTestSupport/BuiltExecutable.swift → the package root.
            // (#filePath in the body, not as a default argument: that would be the caller's file.)
            let root = URL(fileURLWithPath: #filePath)
                .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            candidates.append(root.appendingPathComponent(".build/debug/\(name)"))
        }
        for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate.path) {
            return candidate
        }
        let override = overrideVariable.map { ", or set \($0) to its path" } ?? ""
        throw HarnessError("""
            the \(name) executable was not found (looked at \(candidates.map(\.path).joined(separator: ", "))); \
            build it with `swift build --build-tests`\(override)
            """)
    }
}
