// Interleaved A/B of the two JSON builds: A = Sources/VolleyJSON as committed, B = the same
// with variants/JSONObject.swift (OrderedDictionary). Arguments: iterations per run, rounds.
// Rounds alternate A-B and B-A so drift and warm-up fall on both alike; time is the thread's
// CPU time, and the verdict is the median of the per-round B/A ratios (robust to a round
// that another process on the machine disturbed).
import Glibc

let arguments = CommandLine.arguments
let iterations = arguments.count > 1 ? Int(arguments[1]) ?? 200_000 : 200_000
let rounds = arguments.count > 2 ? Int(arguments[2]) ?? 3 : 3

let reply = Array(Fixtures.reply.utf8)
let request = Array(Fixtures.request.utf8)

func threadCPUNanoseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}

func run(_ variant: String, iterations: Int) -> Double {
    let result = variant == "A"
        ? WorkloadJSONA.run(iterations: iterations, reply: reply, request: request, cpuNanoseconds: threadCPUNanoseconds)
        : WorkloadJSONB.run(iterations: iterations, reply: reply, request: request, cpuNanoseconds: threadCPUNanoseconds)
    guard result.checksum > 0 else { fatalError("variant \(variant) failed to parse the fixtures") }
    return Double(result.nanoseconds) / Double(iterations)
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

func formatted(_ value: Double, digits: Double = 1) -> String {
    let scale = Glibc.pow(10, digits)
    return String((value * scale).rounded() / scale)
}

// Warm-up of both, untimed.
_ = run("A", iterations: max(1, iterations / 10))
_ = run("B", iterations: max(1, iterations / 10))

var timesA: [Double] = []
var timesB: [Double] = []
var ratios: [Double] = []
for round in 0..<rounds {
    var pair: [String: Double] = [:]
    for variant in round % 2 == 0 ? ["A", "B"] : ["B", "A"] {
        pair[variant] = run(variant, iterations: iterations)
    }
    let a = pair["A"] ?? 0
    let b = pair["B"] ?? 0
    timesA.append(a)
    timesB.append(b)
    ratios.append(b / a)
    print("round \(round + 1): A \(formatted(a)) ns, B \(formatted(b)) ns per iteration, B/A \(formatted(b / a, digits: 3))")
}
let sortedRatios = ratios.sorted()
print("""
    \(rounds) rounds of \(iterations) iterations (thread CPU time per iteration: parse a reply and a request, write \
    the request, build and write a body)
    A JSONObject:        median \(formatted(median(timesA))) ns, min \(formatted(timesA.min() ?? 0)) ns
    B OrderedDictionary: median \(formatted(median(timesB))) ns, min \(formatted(timesB.min() ?? 0)) ns
    B/A per round: median \(formatted(median(ratios), digits: 3)), range \(formatted(sortedRatios.first ?? 0, digits: 3))\
    -\(formatted(sortedRatios.last ?? 0, digits: 3))
    """)
