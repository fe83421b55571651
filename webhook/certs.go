package webhook

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Keys of the certificate Secret (those of a kubernetes.io/tls Secret, as
// cert-manager writes them, plus the CA's key).
const (
	keyCACert = "ca.crt" // the CA bundle: the current CA, and the previous one while it is still trusted
	keyCAKey  = "ca.key"
	keyCert   = corev1.TLSCertKey
	keyKey    = corev1.TLSPrivateKeyKey
)

// Certs makes and rotates the webhook's serving certificate where
// cert-manager does not: a CA and a serving certificate for the webhook's
// Service, kept in a Secret (so every replica serves the same one), written
// to the directory the webhook server reads (it reloads on change), and the
// CA bundle put into the webhook configurations.
type Certs struct {
	Client    client.Client // not cached: read before the manager starts
	Namespace string
	Secret    string
	// Service names the webhook's Service; its DNS names are in the
	// certificate, with ExtraNames (a host name for a webhook reached by
	// URL).
	Service    string
	ExtraNames []string
	// Dir is where tls.crt and tls.key are written.
	Dir string
	// Configurations names the Mutating- and ValidatingWebhookConfiguration
	// whose CA bundle is kept.
	Configurations string
	// Validity of the CA and of the serving certificate; each is renewed
	// when a third of its validity is left. Defaults: 10 years, 1 year.
	CAValidity, Validity time.Duration
	// Every says how often Start checks (default an hour).
	Every time.Duration
	Now   func() time.Time
}

func (c *Certs) defaults() {
	if c.CAValidity == 0 {
		c.CAValidity = 10 * 365 * 24 * time.Hour
	}
	if c.Validity == 0 {
		c.Validity = 365 * 24 * time.Hour
	}
	if c.Every == 0 {
		c.Every = time.Hour
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// DNSNames are the names the serving certificate is for.
func (c *Certs) DNSNames() []string {
	names := []string{c.Service, c.Service + "." + c.Namespace, c.Service + "." + c.Namespace + ".svc", c.Service + "." + c.Namespace + ".svc.cluster.local"}
	return append(names, c.ExtraNames...)
}

// Start checks the certificate every c.Every until ctx ends (a manager
// runnable, on every replica: each serves the webhook).
func (c *Certs) Start(ctx context.Context) error {
	c.defaults()
	every(ctx, c.Every, func() {
		if err := c.Ensure(ctx); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "webhook certificate")
		}
	})
	return nil
}

// NeedLeaderElection: every replica keeps its own files.
func (c *Certs) NeedLeaderElection() bool { return false }

// Ensure makes the certificate when there is none, renews what is due,
// writes the files and puts the CA bundle into the webhook configurations.
func (c *Certs) Ensure(ctx context.Context) error {
	c.defaults()
	// Replicas starting together race to create or renew: the loser reads
	// what the winner wrote and tries again (client-go's backoff).
	raced := func(err error) bool { return apierrors.IsAlreadyExists(err) || apierrors.IsConflict(err) }
	return retry.OnError(retry.DefaultRetry, raced, func() error { return c.ensureSecret(ctx) })
}

func (c *Certs) ensureSecret(ctx context.Context) error {
	secret := &corev1.Secret{}
	err := c.Client.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: c.Secret}, secret)
	exists := err == nil
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	data, changed, err := c.renew(secret.Data)
	if err != nil {
		return err
	}
	if changed {
		secret.Name, secret.Namespace = c.Secret, c.Namespace
		secret.Type = corev1.SecretTypeTLS
		secret.Data = data
		if exists {
			err = c.Client.Update(ctx, secret)
		} else {
			err = c.Client.Create(ctx, secret)
		}
		if err != nil {
			return err
		}
	}
	if err := c.writeFiles(data); err != nil {
		return err
	}
	return c.inject(ctx, data[keyCACert])
}

// renew returns the Secret's data with what is missing, broken or due made
// anew, and whether anything changed.
func (c *Certs) renew(data map[string][]byte) (map[string][]byte, bool, error) {
	now := c.Now()
	due := func(cert *x509.Certificate, validity time.Duration) bool {
		return cert == nil || now.After(cert.NotAfter.Add(-validity/3)) || now.Before(cert.NotBefore)
	}
	ca, caKey := parsePair(data[keyCACert], data[keyCAKey])
	out := map[string][]byte{}
	for k, v := range data {
		out[k] = v
	}
	changed := false
	if due(ca, c.CAValidity) {
		newCA, newKey, caPEM, keyPEM, err := newCertificate(nil, nil, "laiki-webhook-ca", nil, now, c.CAValidity)
		if err != nil {
			return nil, false, err
		}
		bundle := caPEM
		if ca != nil && now.Before(ca.NotAfter) {
			// Certificates of the old CA stay trusted until they are replaced.
			bundle = append(append([]byte(nil), caPEM...), pemOf(ca)...)
		}
		ca, caKey = newCA, newKey
		out[keyCACert], out[keyCAKey] = bundle, keyPEM
		out[keyCert] = nil // signed by the old CA: made anew below
		changed = true
	}
	cert, _ := parsePair(out[keyCert], out[keyKey])
	if due(cert, c.Validity) || !coversNames(cert, c.DNSNames()) || cert.CheckSignatureFrom(ca) != nil {
		_, _, certPEM, keyPEM, err := newCertificate(ca, caKey, c.Service+"."+c.Namespace+".svc", c.DNSNames(), now, c.Validity)
		if err != nil {
			return nil, false, err
		}
		out[keyCert], out[keyKey] = certPEM, keyPEM
		changed = true
	}
	return out, changed, nil
}

// writeFiles writes tls.crt and tls.key where they differ, each by rename so
// that the server never reads half a file.
func (c *Certs) writeFiles(data map[string][]byte) error {
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return err
	}
	// The key first: the server reloads when the certificate changes.
	for _, k := range []string{keyKey, keyCert} {
		path := filepath.Join(c.Dir, k)
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data[k]) {
			continue
		}
		tmp, err := os.CreateTemp(c.Dir, "."+k+"-*")
		if err != nil {
			return err
		}
		_, werr := tmp.Write(data[k])
		cerr := tmp.Close()
		if err := errors.Join(werr, cerr); err != nil {
			os.Remove(tmp.Name())
			return err
		}
		if err := os.Rename(tmp.Name(), path); err != nil {
			return err
		}
	}
	return nil
}

// inject puts the CA bundle into every webhook of the two configurations.
func (c *Certs) inject(ctx context.Context, bundle []byte) error {
	if c.Configurations == "" {
		return nil
	}
	m := &admissionregistrationv1.MutatingWebhookConfiguration{}
	if err := c.Client.Get(ctx, client.ObjectKey{Name: c.Configurations}, m); err != nil {
		return fmt.Errorf("MutatingWebhookConfiguration %s: %w", c.Configurations, err)
	}
	changed := false
	for i := range m.Webhooks {
		if !bytes.Equal(m.Webhooks[i].ClientConfig.CABundle, bundle) {
			m.Webhooks[i].ClientConfig.CABundle, changed = bundle, true
		}
	}
	if changed {
		if err := c.Client.Update(ctx, m); err != nil {
			return err
		}
	}
	v := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := c.Client.Get(ctx, client.ObjectKey{Name: c.Configurations}, v); err != nil {
		return fmt.Errorf("ValidatingWebhookConfiguration %s: %w", c.Configurations, err)
	}
	changed = false
	for i := range v.Webhooks {
		if !bytes.Equal(v.Webhooks[i].ClientConfig.CABundle, bundle) {
			v.Webhooks[i].ClientConfig.CABundle, changed = bundle, true
		}
	}
	if changed {
		return c.Client.Update(ctx, v)
	}
	return nil
}

func parsePair(certPEM, keyPEM []byte) (*x509.Certificate, *ecdsa.PrivateKey) {
	b, _ := pem.Decode(certPEM)
	k, _ := pem.Decode(keyPEM)
	if b == nil || k == nil {
		return nil, nil
	}
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, nil
	}
	key, err := x509.ParseECPrivateKey(k.Bytes)
	if err != nil || !key.PublicKey.Equal(cert.PublicKey) {
		return nil, nil
	}
	return cert, key
}

func coversNames(cert *x509.Certificate, names []string) bool {
	if cert == nil {
		return false
	}
	for _, n := range names {
		if cert.VerifyHostname(n) != nil {
			return false
		}
	}
	return true
}

func pemOf(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}

// newCertificate makes a key and a certificate: a CA when parent is nil,
// otherwise a serving certificate for names signed by parent.
func newCertificate(parent *x509.Certificate, parentKey *ecdsa.PrivateKey, cn string, names []string, now time.Time, validity time.Duration) (*x509.Certificate, *ecdsa.PrivateKey, []byte, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"laiki"}},
		NotBefore:    now.Add(-time.Hour), // clocks of other nodes may be behind
		NotAfter:     now.Add(validity),
		DNSNames:     names,
	}
	signer, signerKey := tmpl, key
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		signer, signerKey = parent, parentKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	return cert, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}
