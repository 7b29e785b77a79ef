// swift-tools-version:6.0
import PackageDescription

// Linux only (epoll, eventfd): the transport waits on an epoll set (Sources/CVolleyLinux), so no
// Apple platform is declared and Sources/ keeps no Darwin branch.
//
// Dependencies, and why each is here:
// - swift-nio: the fake LLM server (FakeLLM) and nothing else. `volley` never links it.
// - swift-argument-parser: the `volley` and `volley-fake-llm` command lines.
// - swift-log: structured logging to stderr from the sidecar; the engine takes a Logger (retries,
//   learned limits, slow items) and only the executable bootstraps it.
// - hdrhistogram-swift: latency percentiles for `stats` (bounded memory, exact to 3 digits).
// - swift-collections: the scheduler's deadline heap (HeapModule); Deque for the FIFOs (a
//   limiter lane's waiters, an origin's queued transfers, volley run's split lines). Not
//   OrderedCollections for JSONObject: an OrderedDictionary-backed one cost 16% more CPU on
//   chat bodies (bench/json).
// System libraries (Debian packages; scripts/install-deps installs them):
// - libcurl (libcurl4-openssl-dev): all HTTP.
// - libcrypto (libssl-dev; OpenSSL's, which libcurl already loads for TLS): SHA-256 for the
//   fingerprint of an API key that names a limiter (VolleyCore's KeyFingerprint). Not
//   swift-crypto: it would build and link BoringSSL into `volley`, a second SHA-256 beside the
//   one already in the process, for one call per provider per `configure`.
// - hiredis (libhiredis-dev; Debian 12 has 0.14, without TLS): the Redis client of shared limits
//   across machines (VolleyRedis), used only when `shared_limits` is configured.
// - mimalloc (libmimalloc-dev; libmimalloc2.0 at run time): the `volley` process's allocator.
//   Every request allocates ~70 small blocks (two thirds of them inside libcurl), 64 to 2,000
//   requests at a time; glibc's malloc spent ~10% of the sidecar's CPU on them. Linked,
//   mimalloc measured 8% less CPU per request at bench W1 and 11% less at W3 (interleaved A/B,
//   bench/results/2026-11-25-6.md). That is a development build. The shipped binary
//   (scripts/package) must run where no libmimalloc is installed: it sets
//   VOLLEY_MIMALLOC_OBJECT to mimalloc's static override object, compiled from the same
//   release's Debian source package (Debian ships no static mimalloc), which is linked in
//   instead; docs/packaging.md has the measurement.

// How `volley` gets mimalloc: Debian's shared library, or linked into the binary (see above).
let mimallocLinking: [LinkerSetting] =
    if let object = Context.environment["VOLLEY_MIMALLOC_OBJECT"], !object.isEmpty {
        [.unsafeFlags(["-Xlinker", object])]
    } else {
        [.linkedLibrary("mimalloc")]
    }

// How `volley` gets hiredis: Debian's shared library, or its static archive (libhiredis-dev
// ships libhiredis.a) linked into the binary when scripts/package sets VOLLEY_HIREDIS_ARCHIVE,
// since a stock system has no libhiredis0.14.
let hiredisLinking: [LinkerSetting] =
    if let archive = Context.environment["VOLLEY_HIREDIS_ARCHIVE"], !archive.isEmpty {
        [.unsafeFlags(["-Xlinker", archive])]
    } else {
        [.linkedLibrary("hiredis")]
    }

// How `volley` gets libcurl: Debian's shared library, or a static libcurl linked into the binary
// when scripts/package sets VOLLEY_CURL_ARCHIVES (libcurl.a built from Debian's curl source
// package with HTTP and HTTPS only, then the nghttp2 and zlib archives it needs, separated by
// `:` as in PATH, so a checkout whose path has spaces still works; OpenSSL stays the system's). Debian's libcurl4 loads ~30 libraries for protocols and features Volley never
// uses (LDAP, SSH, RTMP, Kerberos, IDN, GnuTLS beside OpenSSL, ...); the loader's work on them
// was most of the packaged binary's start-up (docs/packaging.md).
let curlLinking: [LinkerSetting] =
    if let archives = Context.environment["VOLLEY_CURL_ARCHIVES"], !archives.isEmpty {
        [.unsafeFlags(archives.split(separator: ":").flatMap { ["-Xlinker", String($0)] }),
         .linkedLibrary("ssl"), .linkedLibrary("crypto")]
    } else {
        [.linkedLibrary("curl")]
    }

let package = Package(
    name: "Volley",
    products: [
        .executable(name: "volley", targets: ["volley"]),
        .executable(name: "volley-fake-llm", targets: ["volley-fake-llm"]),
        .library(name: "FakeLLM", targets: ["FakeLLM"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
    ],
    targets: [
        // libcurl's headers; typed wrappers for its variadic calls live in shim.h. No pkgConfig
        // and no `link` in its module map: how it is linked is `curlLinking`, on VolleyHTTP.
        .systemLibrary(
            name: "CCurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        // OpenSSL's libcrypto, for SHA-256 only (shim.h); see "Dependencies" above.
        .systemLibrary(
            name: "CLibcrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        // hiredis, for the limits several machines share in Redis (shim.h). No pkgConfig: its
        // `--libs` would link the shared library into the packaged binary too; how it is
        // linked is `hiredisLinking`, on VolleyRedis.
        .systemLibrary(
            name: "CHiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),
        // The few POSIX calls the modules share (threads, files, environment, time of day), so
        // that no module needs Foundation: the `volley` binary does not link it.
        .target(name: "VolleySystem", dependencies: ["CSanitizerHooks"]),
        // Two calls that tell ThreadSanitizer of a lock's acquire and release (VolleySystem's
        // Locked): empty in every other build.
        .target(name: "CSanitizerHooks"),
        // epoll and eventfd for the transport's event selector (Linux only, like CNIOLinux).
        .target(name: "CVolleyLinux"),
        // The transport: one thread owning one curl multi handle.
        .target(name: "VolleyHTTP", dependencies: ["CCurl", "CVolleyLinux", "VolleySystem", .product(name: "DequeModule", package: "swift-collections")],
                linkerSettings: curlLinking),
        // JSON values, the strict parser, the reader, the writer: a leaf that depends on nothing,
        // so the sidecar and the fake server share one JSON implementation.
        .target(name: "VolleyJSON"),
        // The engine: items, providers, limiter, retries, scheduler, batches. Re-exports
        // VolleyJSON, whose values are in its public API (items, outcomes, configs).
        .target(
            name: "VolleyCore",
            dependencies: ["VolleyJSON", "VolleyHTTP", "VolleySystem", "CLibcrypto", "VolleyRedis",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "Histogram", package: "hdrhistogram-swift"),
                           .product(name: "HeapModule", package: "swift-collections"),
                           .product(name: "DequeModule", package: "swift-collections")]
        ),
        // Redis through hiredis: connections (AUTH, SELECT, timeouts) and the shared limiters'
        // script (GCRA buckets and cooldowns evaluated in the server).
        .target(name: "VolleyRedis", dependencies: ["CHiredis"], linkerSettings: hiredisLinking),
        // JSON-RPC 2.0 over stdio or a Unix socket (a shared sidecar): framing, codec, dispatch, lifecycle.
        .target(
            name: "VolleyRPC",
            dependencies: ["VolleyCore", "VolleyJSON", "VolleySystem", "CVolleyLinux", .product(name: "Logging", package: "swift-log")]
        ),
        // Before main, for the `volley` process: the open-files limit raised to its hard limit
        // and the descriptor table grown while there is one thread (see process_setup.c).
        .target(name: "CProcessSetup"),
        // What `volley --version` says of the build: empty here, filled by scripts/package at
        // link time (see its header).
        .target(name: "CVolleyBuildInfo"),
        // `volley run FILE.jsonl`: a whole file through the engine, resumable, in bounded memory.
        .target(name: "VolleyRun", dependencies: ["VolleyCore", "VolleySystem", .product(name: "DequeModule", package: "swift-collections")]),
        .executableTarget(
            name: "volley",
            dependencies: [
                "CProcessSetup",
                "CVolleyBuildInfo",
                "VolleyRPC",
                "VolleyRun",
                "VolleySystem",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            // mimalloc replaces glibc's malloc for the whole process (libcurl's allocations
            // included): see "Dependencies" above.
            linkerSettings: mimallocLinking
        ),
        // A SwiftNIO OpenAI/Anthropic-compatible fake server for tests, benchmarks and users; its
        // bodies are read and written with VolleyJSON, the sidecar's own JSON.
        .target(
            name: "FakeLLM",
            dependencies: [
                "VolleyJSON",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "volley-fake-llm",
            dependencies: [
                "FakeLLM",
                "VolleyJSON",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Fuzz targets (libFuzzer; scripts/fuzz builds them with -sanitize=fuzzer,address and
        // runs them): one executable per reader of untrusted bytes, each a replayer of input
        // files in a plain build. See docs/architecture.md, "Fuzzing".
        .target(name: "FuzzSupport", dependencies: ["VolleyJSON"], path: "Sources/Fuzz/FuzzSupport"),
        .executableTarget(name: "fuzz-rpc", dependencies: ["FuzzSupport", "VolleyRPC", "VolleyCore", "VolleySystem"], path: "Sources/Fuzz/RPC"),
        .executableTarget(name: "fuzz-json", dependencies: ["FuzzSupport", "VolleyJSON"], path: "Sources/Fuzz/JSON"),
        .executableTarget(name: "fuzz-json-diff", dependencies: ["FuzzSupport", "VolleyJSON"], path: "Sources/Fuzz/JSONDiff"),
        .executableTarget(name: "fuzz-sse", dependencies: ["FuzzSupport", "VolleyHTTP", "VolleyCore"], path: "Sources/Fuzz/SSE"),
        .executableTarget(name: "fuzz-headers", dependencies: ["FuzzSupport", "VolleyHTTP", "VolleyCore"], path: "Sources/Fuzz/Headers"),
        .executableTarget(name: "fuzz-providers", dependencies: ["FuzzSupport", "VolleyHTTP", "VolleyCore"], path: "Sources/Fuzz/Providers"),
        .executableTarget(name: "fuzz-run", dependencies: ["FuzzSupport", "VolleyRun", "VolleyCore", "VolleySystem"], path: "Sources/Fuzz/Run"),
        .executableTarget(name: "fuzz-redis", dependencies: ["FuzzSupport", "VolleyRedis", "CHiredis"], path: "Sources/Fuzz/Redis"),
        // What every test target shares (for test targets only): the test tags scripts/test
        // selects by, bounded waits, a latch, where the built executables are, and servers
        // around a real nginx (TLS, gateway rate limits).
        .target(name: "VolleyTestSupport", dependencies: ["VolleySystem"], path: "Tests/VolleyTestSupport"),
        // The fake LLM server's test fixture, apart so that VolleyTestSupport needs no SwiftNIO.
        .target(name: "FakeLLMTestSupport", dependencies: [
            "FakeLLM",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ], path: "Tests/FakeLLMTestSupport"),
        .testTarget(name: "VolleyTestSupportTests", dependencies: ["VolleyTestSupport", "VolleySystem"]),
        .testTarget(name: "VolleySystemTests", dependencies: ["VolleySystem", "VolleyTestSupport"]),
        .testTarget(name: "VolleyJSONTests", dependencies: ["VolleyJSON"]),
        .testTarget(name: "VolleyHTTPTests", dependencies: ["VolleyHTTP", "FakeLLM", "VolleyTestSupport"]),
        .testTarget(name: "FakeLLMTests", dependencies: ["FakeLLM", "FakeLLMTestSupport", "VolleyJSON", "VolleyTestSupport"]),
        .testTarget(name: "VolleyCoreTests", dependencies: ["VolleyCore", "VolleySystem", "VolleyHTTP", "VolleyRedis", "FakeLLM", "VolleyTestSupport", "FakeLLMTestSupport"]),
        .testTarget(name: "VolleyRPCTests", dependencies: ["VolleyRPC", "VolleySystem"]),
        .testTarget(name: "VolleyRedisTests", dependencies: ["VolleyRedis", "VolleySystem", "VolleyTestSupport"]),
        .testTarget(name: "VolleyRunTests", dependencies: ["VolleyRun", "VolleySystem", "volley", "VolleyTestSupport", "VolleyRedis", "FakeLLM", "FakeLLMTestSupport"]),
        .testTarget(name: "VolleyEndToEndTests",
                    dependencies: ["volley", "FakeLLM", "VolleyCore", "VolleyRedis", "VolleySystem", "VolleyTestSupport", "FakeLLMTestSupport", "CVolleyLinux"]),
    ],
    swiftLanguageModes: [.v6]
)
