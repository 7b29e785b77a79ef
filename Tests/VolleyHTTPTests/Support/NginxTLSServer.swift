import Foundation

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

// `@unchecked Sendable`: every stored property is a `let` set in `init`; `Process` is only
// touched again by `stop()`, which tests call once, from one task, after their requests.

/// A throwaway nginx on 127.0.0.1 serving HTTPS with HTTP/2, with a certificate signed by a CA
/// made for this run. Verification stays on: clients pass `caFile`.
///
/// Needs `nginx` and `openssl` (scripts/test installs them). nginx cannot bind port 0, so a
/// free port is found by binding port 0 first.
final class NginxTLSServer: @unchecked Sendable {
    let port: Int
    let caFile: String
    private let directory: URL
    private let process: Process

    var baseURL: String { "https://localhost:\(port)" }

    enum Failure: Error, CustomStringConvertible {
        case missingTool(String)
        case command(String, Int32, String)
        case notListening(String)

        var description: String {
            switch self {
            case .missingTool(let tool): return "\(tool) not found: run scripts/test, which installs it"
            case .command(let command, let status, let output): return "\(command) exited \(status): \(output)"
            case .notListening(let log): return "nginx did not start listening: \(log)"
            }
        }
    }

    /// Starts a server on a thread of its own: making the CA and waiting for nginx block, and
    /// blocking Swift's cooperative pool (two threads here) would stall every other test.
    static func start(http2: Bool = true) async throws -> NginxTLSServer {
        try await onThread { try NginxTLSServer(http2: http2) }
    }

    /// Stops nginx (blocking work, off the cooperative pool).
    func shutdown() async {
        await Self.onThread { self.stop() }
    }

    private static func onThread<T>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }

    private static func onThread(_ body: @escaping @Sendable () -> Void) async {
        await withCheckedContinuation { continuation in
            Thread {
                body()
                continuation.resume()
            }.start()
        }
    }

    /// - Parameter http2: serve HTTP/2 via ALPN (else HTTP/1.1 only).
    private init(http2: Bool = true) throws {
        guard let nginx = Self.which("nginx") else { throw Failure.missingTool("nginx") }
        guard let openssl = Self.which("openssl") else { throw Failure.missingTool("openssl") }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("volley-nginx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for sub in ["logs", "tmp"] {
            try FileManager.default.createDirectory(at: directory.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
        let dir = directory.path
        caFile = "\(dir)/ca.pem"
        // A CA, and a server certificate for localhost/127.0.0.1 signed by it.
        try Self.run(openssl, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                               "-subj", "/CN=Volley Test CA", "-keyout", "\(dir)/ca.key", "-out", caFile,
                               "-addext", "basicConstraints=critical,CA:TRUE",
                               "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        try Self.run(openssl, ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
                               "-keyout", "\(dir)/server.key", "-out", "\(dir)/server.csr"])
        try "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
            .write(toFile: "\(dir)/ext.cnf", atomically: true, encoding: .utf8)
        try Self.run(openssl, ["x509", "-req", "-in", "\(dir)/server.csr", "-CA", caFile, "-CAkey", "\(dir)/ca.key",
                               "-CAcreateserial", "-days", "2", "-extfile", "\(dir)/ext.cnf", "-out", "\(dir)/server.pem"])
        port = try Self.freePort()
        let echoModule = "/usr/lib/nginx/modules/ngx_http_echo_module.so"
        let hasEcho = FileManager.default.fileExists(atPath: echoModule)
        let body = #"{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}"#
        let slow = hasEcho
            ? "location /slow { default_type application/json; add_header x-conn $connection always; echo_sleep 0.3; echo '\(body)'; }"
            : "location /slow { default_type application/json; add_header x-conn $connection always; return 200 '\(body)'; }"
        let conf = """
        \(hasEcho ? "load_module \(echoModule);" : "")
        worker_processes 1;
        error_log \(dir)/logs/error.log warn;
        pid \(dir)/nginx.pid;
        events { worker_connections 1024; }
        http {
            access_log off;
            client_body_temp_path \(dir)/tmp/body;
            proxy_temp_path \(dir)/tmp/proxy;
            fastcgi_temp_path \(dir)/tmp/fastcgi;
            uwsgi_temp_path \(dir)/tmp/uwsgi;
            scgi_temp_path \(dir)/tmp/scgi;
            keepalive_requests 100000;
            http2_max_concurrent_streams 128;
            server {
                listen 127.0.0.1:\(port) ssl\(http2 ? " http2" : "");
                ssl_certificate \(dir)/server.pem;
                ssl_certificate_key \(dir)/server.key;
                location /fast { default_type application/json; add_header x-conn $connection always; return 200 '\(body)'; }
                \(slow)
            }
        }
        """
        try conf.write(toFile: "\(dir)/nginx.conf", atomically: true, encoding: .utf8)
        process = Process()
        process.executableURL = URL(fileURLWithPath: nginx)
        process.arguments = ["-p", dir, "-c", "\(dir)/nginx.conf", "-g", "daemon off;"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        try waitUntilListening()
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    deinit { stop() }

    /// Polls a TCP connect until nginx accepts (bounded); nginx offers no readiness signal.
    private func waitUntilListening() throws {
        for _ in 0..<500 {
            if !process.isRunning { break }
            if Self.canConnect(port: port) { return }
            usleep(10_000)
        }
        let log = (try? String(contentsOfFile: "\(directory.path)/logs/error.log", encoding: .utf8)) ?? ""
        throw Failure.notListening(log)
    }

    private static func canConnect(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure.command("socket", errno, "") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                guard bind(fd, pointer, length) == 0 else { return -1 }
                return getsockname(fd, pointer, &length)
            }
        }
        guard bound == 0 else { throw Failure.command("bind", errno, "") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func which(_ tool: String) -> String? {
        for dir in ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", "/sbin", "/bin"] {
            let path = "\(dir)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: output, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw Failure.command(([executable] + arguments).joined(separator: " "), process.terminationStatus, text)
        }
        return text
    }
}
