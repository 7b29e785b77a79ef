import CVolleyLinux
import FakeLLM
import FakeLLMTestSupport
import Foundation
import Testing
import VolleyCore
import VolleyTestSupport
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// `volley serve --socket`: one daemon, any number of hosts, each connection its own session
/// on one engine (issue 15, items 2, 3 and 5).
@Suite("Shared mode: one daemon on a Unix socket", .timeLimit(.minutes(1)), .tags(.endToEnd))
struct SharedSocketTests {
    @Test("The socket is 0600 in a 0700 directory; one daemon per path; a dead one's socket is replaced")
    func privateSocketOneDaemon() async throws {
        try await withPrivateDirectory { directory in
            let path = "\(directory)/sub/volley.sock"
            let first = try await startDaemon(socket: path)
            defer { first.terminate() }
            var info = stat()
            #expect(lstat(path, &info) == 0)
            #expect(info.st_mode & S_IFMT == S_IFSOCK)
            #expect(info.st_mode & 0o777 == 0o600)
            #expect(lstat("\(directory)/sub", &info) == 0)
            #expect(info.st_mode & 0o777 == 0o700, "made 0700 when missing")

            // A live daemon is never stolen from: the second exits 3 at once.
            let second = try VolleyProcess(arguments: ["serve", "--socket", path])
            #expect(try await second.waitForExit() == .exited(3))
            #expect(second.stderrText.contains("another volley daemon serves \(path)"))
            let host = try SocketHost(socket: path)
            #expect(try await host.request("ping", id: 1)["result"] == [:])

            // Killed without cleaning up: the socket file stays; the next daemon replaces it.
            first.signal(SIGKILL)
            _ = try await first.waitForExit()
            #expect(lstat(path, &info) == 0, "a SIGKILLed daemon leaves its socket file")
            #expect(volley_unix_connect_refused(path))
            let third = try await startDaemon(socket: path)
            defer { third.terminate() }
            #expect(try await SocketHost(socket: path).request("ping", id: 1)["result"] == [:])
        }
    }

    @Test("A directory open to others, or someone else's, is refused with exit 2")
    func publicDirectoryIsRefused() async throws {
        try await withPrivateDirectory { directory in
            #expect(chmod(directory, 0o755) == 0)
            let daemon = try VolleyProcess(arguments: ["serve", "--socket", "\(directory)/volley.sock"])
            #expect(try await daemon.waitForExit() == .exited(2))
            #expect(daemon.stderrText.contains("open to other users (mode 755); it must be 0700"))
            // Not a socket: never removed.
            #expect(chmod(directory, 0o700) == 0)
            let file = "\(directory)/volley.sock"
            #expect(FileManager.default.createFile(atPath: file, contents: Data("keep".utf8)))
            let again = try VolleyProcess(arguments: ["serve", "--socket", file])
            #expect(try await again.waitForExit() == .exited(2))
            #expect(try String(contentsOfFile: file, encoding: .utf8) == "keep")
        }
    }

    @Test("Each connection is a session: its own ids, providers, cancel and shutdown")
    func connectionsAreSessions() async throws {
        try await withPrivateDirectory { directory in
            let path = "\(directory)/volley.sock"
            let daemon = try await startDaemon(socket: path)
            defer { daemon.terminate() }
            let a = try SocketHost(socket: path), b = try SocketHost(socket: path)
            let initA = try await a.request("initialize", id: 1, params: ["client": ["name": "host-a", "version": "1"]])
            let initB = try await b.request("initialize", id: 1, params: ["environment": ["OPENAI_API_KEY": "sk-host-b"]])
            let idA = try #require(initA["result"]?["connection"]?.intValue)
            let idB = try #require(initB["result"]?["connection"]?.intValue)
            #expect(idA != idB)
            #expect(initA["result"]?["server"]?["pid"]?.intValue == Int(daemon.pid))
            // b's environment is b's: its openai provider exists, a's does not.
            #expect(initA["result"]?["capabilities"]?["providers"] == ["mock"])
            #expect(initB["result"]?["capabilities"]?["providers"] == ["mock", "openai"])
            // One id on two connections at once: two requests, not a conflict.
            try a.send(rpcRequest("gather", id: 7, params: ["requests": mockItems(2, latencyMs: 3_000)]))
            try b.send(rpcRequest("gather", id: 7, params: ["requests": mockItems(2, latencyMs: 50)]))
            #expect(try await b.response(to: 7)["result"]?["stats"]?["succeeded"] == 2)
            // b cannot cancel a's request; a can.
            #expect(try await b.request("cancel", id: 8, params: ["id": 7])["result"]?["cancelled"] == false)
            #expect(try await a.request("cancel", id: 8, params: ["id": 7])["result"]?["cancelled"] == true)
            #expect(try await a.response(to: 7).errorCode == -32800)
            // configure on a is a's alone.
            _ = try await a.request("configure", id: 9, params: ["providers": ["extra": ["kind": "mock"]]])
            #expect(try await b.request("stats", id: 9)["result"]?["providers"]?.objectValue?.keys.sorted() == ["mock", "openai"])
            let stats = try await a.request("stats", id: 10)
            #expect(stats["result"]?["providers"]?.objectValue?.keys.sorted() == ["extra", "mock"])
            #expect(stats["result"]?["connection"]?.intValue == idA)
            let connections = stats["result"]?["connections"]?.arrayValue ?? []
            #expect(connections.compactMap { $0["id"]?.intValue } == [idA, idB].sorted())
            #expect(connections.first { $0["id"]?.intValue == idA }?["client"] == "host-a 1")
            #expect(connections.allSatisfy { $0["pid"]?.intValue == Int(getpid()) })
            #expect(!JSONValue.array(connections).jsonString.contains("sk-host-b"))
            // shutdown and exit end a's connection only.
            #expect(try await a.request("shutdown", id: 11)["result"] == .null)
            #expect(try await a.request("ping", id: 12).errorCode == -32600)
            try a.notify("exit")
            try await a.waitForEOF()
            #expect(try await b.request("ping", id: 12)["result"] == [:])
            #expect(!daemon.hasExited)
        }
    }

    @Test("A host starts as a stdio sidecar would: --config providers, keys from its environment, later variables from configure")
    func sessionsStartFromTheConfigAndTheHostsEnvironment() async throws {
        try await withPrivateDirectory { directory in
            let config = "\(directory)/config.json"
            let providers: JSONValue = ["providers": ["gw": ["kind": "openai", "base_url": "http://127.0.0.1:9/v1", "api_key_env": "GW_KEY"]]]
            #expect(FileManager.default.createFile(atPath: config, contents: Data(providers.jsonBytes)))
            let path = "\(directory)/volley.sock"
            let daemon = try await startDaemon(socket: path, ["--config", config], environment: ["GW_KEY": "sk-daemon"])
            defer { daemon.terminate() }
            // No initialize at all: the daemon's configuration, with the daemon's key.
            let plain = try SocketHost(socket: path)
            let gateway = try await plain.request("stats", id: 1)["result"]?["providers"]?["gw"]
            #expect(gateway?["has_key"] == true)
            // A host's environment replaces the daemon's: without GW_KEY, gw has no key ...
            let host = try SocketHost(socket: path)
            let reply = try await host.request("initialize", id: 1, params: ["environment": ["OTHER": "x"]])
            #expect(reply["result"]?["capabilities"]?["providers"] == ["gw", "mock"])
            #expect(try await host.request("stats", id: 2)["result"]?["providers"]?["gw"]?["has_key"] == false)
            // ... until configure names the variable with its value.
            let configured = try await host.request("configure", id: 3, params: [
                "environment": ["GW_KEY": "sk-host"], "providers": ["gw": ["kind": "openai", "base_url": "http://127.0.0.1:9/v1", "api_key_env": "GW_KEY"]]])
            #expect(configured["result"]?["warnings"] == nil, "\(configured.jsonString)")
            #expect(try await host.request("stats", id: 4)["result"]?["providers"]?["gw"]?["has_key"] == true)
            #expect(try await host.request("configure", id: 5, params: ["environment": ["GW_KEY": 1]]).errorCode == -32602)
        }
    }

    @Test("A host that closes its socket has its transfers aborted; the others finish")
    func closingAHostCancelsOnlyItsWork() async throws {
        try await withFakeServer({ $0.latency = .fixed(milliseconds: 20) }) { server in
            try await withPrivateDirectory { directory in
                let path = "\(directory)/volley.sock"
                let daemon = try await startDaemon(socket: path, environment: [fakeKeyEnv: "sk-fake"])
                defer { daemon.terminate() }
                let leaving = try SocketHost(socket: path), staying = try SocketHost(socket: path)
                for host in [leaving, staying] {
                    _ = try await host.request("configure", id: "c", params: ["providers": fakeProviders(server)])
                }
                let slow = JSONValue.array((0..<4).map { fakeItem(key: "s\($0)", fake: ["latency_ms": 20_000]) })
                try leaving.send(rpcRequest("gather", id: 1, params: ["requests": slow]))
                _ = try await server.waitForStats { $0.inFlight == 4 }
                try staying.send(rpcRequest("gather", id: 1, params: ["requests": .array((0..<6).map { fakeItem(key: "f\($0)") })]))
                leaving.close()
                let stats = try await server.waitForStats { $0.clientDisconnectsBeforeResponseEnd == 4 && $0.inFlight == 0 }
                #expect(stats.clientDisconnectsBeforeResponseEnd == 4)
                let answer = try await staying.response(to: 1)
                #expect(answer["result"]?["stats"]?["succeeded"] == 6)
                let seen = await waitUntil("the daemon drops the closed connection") {
                    let list = try? await staying.request("stats", id: "s")["result"]?["connections"]?.arrayValue
                    return list?.count == 1
                }
                #expect(seen)
                #expect(try await staying.request("stats", id: "t")["result"]?["cancelled"] == 4)
            }
        }
    }

    @Test("A host that half-closes gets its work finished and answered, then EOF")
    func halfCloseDrains() async throws {
        try await withPrivateDirectory { directory in
            let path = "\(directory)/volley.sock"
            let daemon = try await startDaemon(socket: path)
            defer { daemon.terminate() }
            let host = try SocketHost(socket: path)
            try host.send(rpcRequest("gather", id: 1, params: ["requests": mockItems(3, latencyMs: 200)]))
            host.halfClose()
            try await host.waitForEOF()
            let answer = try #require(host.output.values.first { isResponse($0, id: 1) })
            #expect(answer["result"]?["stats"]?["succeeded"] == 3)
        }
    }

    @Test("Two hosts calling one key through differently named providers share one limiter; the strictest wins while both use it")
    func oneBudgetPerKeyAcrossHosts() async throws {
        try await withFakeServer({ $0.latency = .fixed(milliseconds: 30) }) { server in
            try await withPrivateDirectory { directory in
                let path = "\(directory)/volley.sock"
                let daemon = try await startDaemon(socket: path, environment: [fakeKeyEnv: "sk-one-key"])
                defer { daemon.terminate() }
                let a = try SocketHost(socket: path), b = try SocketHost(socket: path)
                _ = try await a.request("configure", id: "c", params: [
                    "providers": fakeProviders(server, name: "work", extra: ["limits": ["concurrency": 4]])])
                _ = try await b.request("configure", id: "c", params: [
                    "providers": fakeProviders(server, name: "team", extra: ["limits": ["concurrency": 1]])])
                func items(_ provider: String) -> JSONValue {
                    .array((0..<6).map { fakeItem(key: "\(provider)\($0)", provider: provider) })
                }
                try a.send(rpcRequest("gather", id: 1, params: ["requests": items("work"), "concurrency": 6]))
                try b.send(rpcRequest("gather", id: 1, params: ["requests": items("team"), "concurrency": 6]))
                #expect(try await a.response(to: 1)["result"]?["stats"]?["succeeded"] == 6)
                #expect(try await b.response(to: 1)["result"]?["stats"]?["succeeded"] == 6)
                #expect(server.stats().peakInFlight == 1, "one budget, at the strictest host's concurrency")
                let stats = try await a.request("stats", id: 2)["result"]
                let limiters = try #require(stats?["limiters"]?.objectValue)
                #expect(limiters.count == 1, "\(limiters)")
                let limiter = try #require(limiters.values.first)
                #expect(limiter["providers"] == ["team", "work"])
                #expect(limiter["connections"]?.arrayValue?.count == 2)
                #expect(limiter["concurrency"] == 1)
                let text = (stats ?? .null).jsonString
                #expect(!text.contains("sk-one-key"))
                // The strict host leaves: the limiter is the other's own again.
                b.close()
                try await b.waitForEOF()
                let relaxed = await waitUntil("the limiter drops the closed connection's limits") {
                    let entry = try? await a.request("stats", id: "s")["result"]?["limiters"]?.objectValue?.values.first
                    return entry?["concurrency"] == 4 && entry?["connections"]?.arrayValue?.count == 1
                }
                #expect(relaxed)
            }
        }
    }

    @Test("SIGTERM answers every connection's pending request, then the daemon exits 0 and removes its socket")
    func sigtermAnswersEveryConnection() async throws {
        try await withPrivateDirectory { directory in
            let path = "\(directory)/volley.sock"
            let daemon = try await startDaemon(socket: path)
            defer { daemon.terminate() }
            let hosts = try (0..<2).map { _ in try SocketHost(socket: path) }
            for host in hosts {
                try host.send(rpcRequest("gather", id: 1, params: ["requests": mockItems(3, latencyMs: 20_000)]))
                _ = try await host.request("ping", id: 2)
            }
            let running = await waitUntil("both batches are running") {
                let stats = try? await hosts[0].request("stats", id: "s")
                return stats?["result"]?["in_flight"] == 6
            }
            #expect(running)
            daemon.signal(SIGTERM)
            for host in hosts {
                #expect(try await host.response(to: 1).errorCode == -32800)
                try await host.waitForEOF()
            }
            #expect(try await daemon.waitForExit() == .exited(0))
            var info = stat()
            #expect(lstat(path, &info) != 0, "the socket file is removed on a clean exit")
        }
    }

    @Test("--idle-exit: the daemon exits 0 once no host has been connected for that long")
    func idleExit() async throws {
        try await withPrivateDirectory { directory in
            let path = "\(directory)/volley.sock"
            let daemon = try await startDaemon(socket: path, ["--idle-exit", "0.3"])
            defer { daemon.terminate() }
            let host = try SocketHost(socket: path)
            // Connected hosts keep it alive past the idle time, however long they stay.
            #expect(try await host.request("ping", id: 1)["result"] == [:])
            try await Task.sleep(for: .milliseconds(600))
            #expect(!daemon.hasExited)
            host.close()
            #expect(try await daemon.waitForExit(timeout: 10) == .exited(0))
        }
    }

    @Test("A peer running as another user is refused with -32012", .enabled(if: getuid() == 0, "needs root to run a child as another uid"))
    func anotherUserIsRefused() async throws {
        let setpriv = "/usr/bin/setpriv"
        try #require(FileManager.default.isExecutableFile(atPath: setpriv), "setpriv (util-linux) is missing")
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"), "Debian's python3 is missing")
        try await withPrivateDirectory { directory in
            let path = "\(directory)/volley.sock"
            let daemon = try await startDaemon(socket: path)
            defer { daemon.terminate() }
            // Open the file-system path on purpose: the peer check must stand on its own.
            #expect(chmod(directory, 0o755) == 0)
            #expect(chmod(path, 0o666) == 0)
            let client = Process()
            client.executableURL = URL(fileURLWithPath: setpriv)
            // Debian's python3 (scripts/install-deps): one another user may run, unlike a
            // toolchain under /root. It connects and reads what the daemon says.
            client.arguments = ["--reuid", "65534", "--regid", "65534", "--clear-groups", "/usr/bin/python3", "-c", """
                import socket, sys
                s = socket.socket(socket.AF_UNIX)
                s.connect(sys.argv[1])
                sys.stdout.write(s.makefile().readline())
                """, path]
            let output = Pipe()
            client.standardOutput = output
            try client.runKeepingReference()
            client.waitUntilExit()
            let line = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let reply = try JSONParser.parse(Array(line.utf8))
            #expect(reply.errorCode == -32012, "\(line)")
            #expect(reply["id"] == .null)
            #expect(daemon.stderrText.contains("refused a connection from uid 65534"))
            // The daemon's own user is still served.
            #expect(try await SocketHost(socket: path).request("ping", id: 1)["result"] == [:])
        }
    }
}

/// True when nothing listens on `path` (connect is refused), as after a daemon was killed.
private func volley_unix_connect_refused(_ path: String) -> Bool {
    let fd = volley_unix_connect(path)
    if fd >= 0 { close(fd) }
    return fd == -ECONNREFUSED
}
