import json,sys
req=json.loads(sys.stdin.readline())
print(json.dumps({"jsonrpc":"2.0","id":req["id"],"result":{"text":req["params"]["arguments"]["text"]}}))
