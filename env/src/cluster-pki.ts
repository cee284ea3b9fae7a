// Certificates between the API server and the kubelet, as kubeadm makes them: one CA; the API
// server's client certificate for the kubelet API (kubectl logs, exec, port-forward), which
// the kubelet authenticates against that CA; the kubelet's serving certificate for the node's
// address, which the API server verifies against the same CA.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The user the API server is to the kubelet; bound to system:kubelet-api-admin. */
export const KUBELET_CLIENT_USER = 'kube-apiserver-kubelet-client';

export interface KubeletPki {
  caFile: string;
  /** The API server's client certificate and key for the kubelet API. */
  clientCertFile: string;
  clientKeyFile: string;
  /** The kubelet's serving certificate and key (the node's address and name). */
  servingCertFile: string;
  servingKeyFile: string;
}

function openssl(args: string[]): void {
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
    if (e.code === 'ENOENT') throw new Error('the test cluster\'s kubelet certificates need openssl: apt-get install openssl (make deps does)');
    throw new Error(`openssl ${args[0]}: ${e.stderr?.toString().trim() ?? e.message}`);
  }
}

function issue(dir: string, name: string, subject: string, extensions: string, ca: { cert: string; key: string }): { cert: string; key: string } {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, `[v3]\n${extensions}\n`);
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', csr, '-subj', subject]);
  openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-days', '7', '-out', cert, '-extfile', ext, '-extensions', 'v3']);
  return { cert, key };
}

/** Writes the CA and both certificates under `dir` (keys mode 0600, openssl's default). */
export function writeKubeletPki(dir: string, nodeAddress: string, nodeName: string): KubeletPki {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ca = { cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key') };
  openssl([
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', ca.key, '-out', ca.cert, '-days', '7',
    '-subj', '/CN=edgeplane-test-kubelet-ca',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  const client = issue(dir, 'apiserver-kubelet-client', `/O=edgeplane-test/CN=${KUBELET_CLIENT_USER}`, 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth', ca);
  const serving = issue(
    dir,
    'kubelet-serving',
    `/O=system:nodes/CN=system:node:${nodeName}`,
    `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:${nodeAddress},DNS:${nodeName}`,
    ca,
  );
  return { caFile: ca.cert, clientCertFile: client.cert, clientKeyFile: client.key, servingCertFile: serving.cert, servingKeyFile: serving.key };
}
