package webhook

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/laiki-platform/laiki/engine/cluster"
)

func leaf(t *testing.T, dir string) *x509.Certificate {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func bundle(t *testing.T, c client.Client) (*x509.CertPool, int) {
	t.Helper()
	m := &admissionregistrationv1.MutatingWebhookConfiguration{}
	if err := c.Get(context.Background(), client.ObjectKey{Name: "laiki"}, m); err != nil {
		t.Fatal(err)
	}
	v := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := c.Get(context.Background(), client.ObjectKey{Name: "laiki"}, v); err != nil {
		t.Fatal(err)
	}
	if string(m.Webhooks[0].ClientConfig.CABundle) != string(v.Webhooks[0].ClientConfig.CABundle) {
		t.Error("the two configurations have different CA bundles")
	}
	pool := x509.NewCertPool()
	n := 0
	rest := m.Webhooks[0].ClientConfig.CABundle
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		pool.AddCert(cert)
		n++
	}
	return pool, n
}

// The certificate is made once, kept in the Secret, trusted through the
// injected bundle, renewed when a third of its validity is left, and a new
// CA is trusted beside the old one until the old one's certificates are gone.
func TestCertsMadeInjectedAndRotated(t *testing.T) {
	ctx := context.Background()
	mutating, validating := Configurations("laiki-system", "laiki-webhook", nil)
	c := fake.NewClientBuilder().WithScheme(cluster.Scheme()).WithObjects(mutating, validating).Build()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	certs := &Certs{Client: c, Namespace: "laiki-system", Secret: "laiki-webhook-tls", Service: "laiki-webhook", Dir: dir,
		Configurations: "laiki", ExtraNames: []string{"localhost"}, Now: func() time.Time { return now }}
	if err := certs.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	first := leaf(t, dir)
	pool, n := bundle(t, c)
	for _, name := range []string{"laiki-webhook.laiki-system.svc", "localhost"} {
		if _, err := first.Verify(x509.VerifyOptions{Roots: pool, DNSName: name, CurrentTime: now}); err != nil || n != 1 {
			t.Errorf("%s: %v (%d CAs)", name, err, n)
		}
	}
	secret := &corev1.Secret{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "laiki-system", Name: "laiki-webhook-tls"}, secret); err != nil || secret.Type != corev1.SecretTypeTLS {
		t.Fatalf("secret: %v %s", err, secret.Type)
	}

	// Another replica, or a restart: the same certificate, nothing written.
	other := *certs
	other.Dir = t.TempDir()
	if err := other.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	if !leaf(t, other.Dir).Equal(first) {
		t.Error("a second replica made a certificate of its own")
	}
	rv := secret.ResourceVersion
	_ = c.Get(ctx, client.ObjectKeyFromObject(secret), secret)
	if secret.ResourceVersion != rv {
		t.Error("the Secret was written with nothing due")
	}

	// Eight months on, the serving certificate is renewed by the same CA.
	now = now.Add(245 * 24 * time.Hour)
	if err := certs.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	second := leaf(t, dir)
	pool, n = bundle(t, c)
	if second.Equal(first) || n != 1 {
		t.Fatalf("not renewed (%d CAs)", n)
	}
	if _, err := second.Verify(x509.VerifyOptions{Roots: pool, DNSName: "laiki-webhook.laiki-system.svc", CurrentTime: now}); err != nil {
		t.Error(err)
	}

	// Seven years on, the CA is renewed; the bundle trusts both.
	now = now.Add(7 * 365 * 24 * time.Hour)
	if err := certs.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	third := leaf(t, dir)
	pool, n = bundle(t, c)
	if n != 2 {
		t.Errorf("the bundle holds %d CAs, want the new and the old", n)
	}
	if _, err := third.Verify(x509.VerifyOptions{Roots: pool, DNSName: "laiki-webhook.laiki-system.svc", CurrentTime: now}); err != nil {
		t.Error(err)
	}
	if third.Issuer.String() == second.Issuer.String() && third.AuthorityKeyId != nil && string(third.AuthorityKeyId) == string(second.AuthorityKeyId) {
		t.Error("the serving certificate is not from the new CA")
	}

	// A Secret broken by hand is made anew.
	if err := c.Get(ctx, client.ObjectKeyFromObject(secret), secret); err != nil {
		t.Fatal(err)
	}
	secret.Data["tls.key"] = []byte("garbage")
	if err := c.Update(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if err := certs.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.ReadFile(filepath.Join(dir, "tls.key")); err != nil || leaf(t, dir).Equal(third) {
		t.Error("a broken key was not replaced")
	}
}
