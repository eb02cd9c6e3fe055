"""Which example answers a request: the incoming request, path templates, Postman's steps."""
