#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The entry point of every fuzz target, in both of its builds.
///
/// - Built by `scripts/fuzz` (`-sanitize=fuzzer,address -DVOLLEY_FUZZING`): hands the process
///   to libFuzzer (`LLVMFuzzerRunDriver`), which parses its flags (`-max_total_time`, a corpus
///   directory, a crash file) and calls `testOneInput` for each input it makes.
/// - Built by a plain `swift build` (no libFuzzer): a replayer that calls `testOneInput` once
///   with each file named on the command line (a directory: each file in it), so a crash file
///   or the seed corpus can be rerun under a debugger without the fuzzing toolchain.
///
/// A target's `@main` calls this with its `LLVMFuzzerTestOneInput`. SwiftPM links every
/// executable with `main` aliased to the module's entry point, so the target needs a `@main`
/// in both builds; libFuzzer's own `main` is then never linked in.
public enum FuzzDriver {
    /// The C signature libFuzzer calls: the input's bytes, its size; returns 0.
    public typealias TestOneInput = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

    /// Runs the target and never returns.
    public static func main(_ testOneInput: TestOneInput) -> Never {
        #if VOLLEY_FUZZING
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(runDriver(&argc, &argv, testOneInput))
        #else
        exit(replay(Array(CommandLine.arguments.dropFirst()), testOneInput))
        #endif
    }

    #if VOLLEY_FUZZING
    /// libFuzzer's driver (libclang_rt.fuzzer, linked by `-sanitize=fuzzer`).
    @_silgen_name("LLVMFuzzerRunDriver")
    private static func runDriver(
        _ argc: UnsafeMutablePointer<CInt>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
        _ callback: TestOneInput
    ) -> CInt
    #endif

    /// Calls `testOneInput` with every file of `paths` (directories are listed, not recursed
    /// into); returns the exit status: 2 for a path that cannot be read.
    static func replay(_ paths: [String], _ testOneInput: TestOneInput) -> CInt {
        guard !paths.isEmpty else {
            writeLine("usage: \(CommandLine.arguments.first ?? "fuzz-target") FILE_OR_DIRECTORY...  (replays inputs; scripts/fuzz fuzzes)")
            return 2
        }
        var count = 0
        for path in paths {
            for file in files(at: path) {
                guard let bytes = readAll(file) else {
                    writeLine("cannot read \(file)")
                    return 2
                }
                _ = bytes.withUnsafeBufferPointer { testOneInput($0.baseAddress, $0.count) }
                count += 1
            }
        }
        writeLine("replayed \(count) inputs")
        return 0
    }

    /// `path` itself, or the regular files in it when it is a directory, sorted.
    private static func files(at path: String) -> [String] {
        guard let directory = opendir(path) else { return [path] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != ".", name != ".." { names.append(path + "/" + name) }
        }
        return names.sorted()
    }

    private static func readAll(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { return nil }
            if count == 0 { return bytes }
            bytes.append(contentsOf: buffer[0..<count])
        }
    }

    private static func writeLine(_ text: String) {
        var line = Array(text.utf8)
        line.append(0x0A)
        _ = line.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}
