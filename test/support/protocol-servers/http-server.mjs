// A small HTTP/1.1 origin for capturing fixtures: Content-Length, chunked and close-delimited bodies,
// keep-alive, HEAD and error statuses. Usage: node http-server.mjs PORT
import { createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';

const port = Number(process.argv[2] ?? 18080);
createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  let body = '';
  req.on('data', (c) => {
    body += c;
  });
  req.on('end', () => {
    if (url.pathname === '/chunked') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.write('first chunk\n');
      setTimeout(() => res.end('second chunk\n'), 20);
    } else if (url.pathname === '/missing') {
      res.writeHead(404, { 'Content-Type': 'text/plain', 'Content-Length': 10 });
      res.end('not found\n');
    } else if (url.pathname === '/echo') {
      res.writeHead(201, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ received: body.length }));
    } else {
      const text = `hello from ${url.pathname}\n`;
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(text) });
      res.end(req.method === 'HEAD' ? undefined : text);
    }
  });
}).listen(port, '127.0.0.1');

// HTTP/1.0 server that ends its body by closing the connection (no Content-Length).
createNetServer((sock) => {
  sock.once('data', () => {
    sock.end('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nServer: close-delimited\r\n\r\nbody ends at close\n');
  });
}).listen(port + 1, '127.0.0.1');
