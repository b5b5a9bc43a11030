-- wrk script: POST one valid notification per request.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"from":"Notifier <noreply@example.com>","to":["alice@example.com"],' ..
           '"subject":"Bench","text":"Hello from the intake benchmark."}'
