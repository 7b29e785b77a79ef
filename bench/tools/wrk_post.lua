-- wrk script: POST the same chat-completions body every peer sends; count non-200 answers.
wrk.method = "POST"
wrk.body = '{"model":"m","messages":[{"role":"user","content":"Say hello, request 0"}],"max_tokens":16}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer x"
