import Foundation
import VolleyTestSupport

/// A throwaway nginx on 127.0.0.1 serving HTTPS with HTTP/2, with a certificate signed by a CA
/// made for this run. Verification stays on: clients pass `caFile`.
///
/// Needs `nginx` and `openssl` (scripts/test installs them); the process, the free port and
/// the temporary directory are `NginxProcess`'s.
final class NginxTLSServer: Sendable {
    let port: Int
    let caFile: String
    private let nginx: NginxProcess

    var baseURL: String { "https://localhost:\(port)" }

    typealias Failure = NginxProcess.Failure

    /// Starts a server on a thread of its own: making the CA and waiting for nginx block, and
    /// blocking Swift's cooperative pool (two threads here) would stall every other test.
    static func start(http2: Bool = true) async throws -> NginxTLSServer {
        try await TestTools.onThread { try NginxTLSServer(http2: http2) }
    }

    /// Stops nginx (blocking work, off the cooperative pool).
    func shutdown() async {
        await TestTools.onThread { self.stop() }
    }

    /// - Parameter http2: serve HTTP/2 via ALPN (else HTTP/1.1 only).
    private init(http2: Bool = true) throws {
        guard let openssl = TestTools.which("openssl") else { throw Failure.missingTool("openssl") }
        nginx = try NginxProcess { layout in
            let dir = layout.directory
            try Self.makeCertificates(openssl: openssl, in: dir)
            let echoModule = "/usr/lib/nginx/modules/ngx_http_echo_module.so"
            let hasEcho = FileManager.default.fileExists(atPath: echoModule)
            let body = #"{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}"#
            // An OpenAI chat stream, each event flushed in a frame of its own 50 ms apart; `/sse-cut`
            // stops before `[DONE]`. Written by nginx's echo module, not by us.
            func events(done: Bool) -> String {
                let chunks = ["Hel", "lo", " there"].map { #"data: {"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"\#($0)"}}]}"# }
                    + (done ? ["data: [DONE]"] : [])
                return chunks.map { "echo '\($0)'; echo ''; echo_flush; echo_sleep 0.05;" }.joined(separator: " ")
            }
            let sse = hasEcho
                ? "location /sse { default_type text/event-stream; \(events(done: true)) } location /sse-cut { default_type text/event-stream; \(events(done: false)) }"
                : ""
            let slow = hasEcho
                ? "location /slow { default_type application/json; add_header x-conn $connection always; echo_sleep 0.3; echo '\(body)'; }"
                : "location /slow { default_type application/json; add_header x-conn $connection always; return 200 '\(body)'; }"
            return layout.conf(
                http: """
                    keepalive_requests 100000;
                    http2_max_concurrent_streams 128;
                    server {
                        listen 127.0.0.1:\(layout.port) ssl\(http2 ? " http2" : "");
                        ssl_certificate \(dir)/server.pem;
                        ssl_certificate_key \(dir)/server.key;
                        location /fast { default_type application/json; add_header x-conn $connection always; return 200 '\(body)'; }
                        \(slow)
                        \(sse)
                    }
                """,
                main: hasEcho ? "load_module \(echoModule);" : ""
            )
        }
        port = nginx.port
        caFile = "\(nginx.directory)/ca.pem"
    }

    func stop() { nginx.stop() }

    /// A CA (`ca.pem`), and a server certificate for localhost/127.0.0.1 signed by it
    /// (`server.pem`, `server.key`), in `dir`.
    private static func makeCertificates(openssl: String, in dir: String) throws {
        let caFile = "\(dir)/ca.pem"
        try TestTools.run(openssl, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                                    "-subj", "/CN=Volley Test CA", "-keyout", "\(dir)/ca.key", "-out", caFile,
                                    "-addext", "basicConstraints=critical,CA:TRUE",
                                    "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        try TestTools.run(openssl, ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
                                    "-keyout", "\(dir)/server.key", "-out", "\(dir)/server.csr"])
        try "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
            .write(toFile: "\(dir)/ext.cnf", atomically: true, encoding: .utf8)
        try TestTools.run(openssl, ["x509", "-req", "-in", "\(dir)/server.csr", "-CA", caFile, "-CAkey", "\(dir)/ca.key",
                                    "-CAcreateserial", "-days", "2", "-extfile", "\(dir)/ext.cnf", "-out", "\(dir)/server.pem"])
    }
}
