package kube

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	netv1ac "k8s.io/client-go/applyconfigurations/networking/v1"

	stamp "github.com/stamphq/stamp"
)

// Network says what a tenant's pods may reach and be reached from,
// beyond each other.
type Network struct {
	// RouterNamespace is the namespace whose pods may connect to tenants:
	// the stamp router's, or the ingress controller's.
	RouterNamespace string
	// Databases are where tenants' databases listen (the tenant
	// PostgreSQL server): the only addresses outside the cluster a
	// tenant without outbound access may reach, besides DNS.
	Databases []netip.AddrPort
}

// Storage says what a tenant's data directory is made of.
type Storage struct {
	// DataSize is the size of the claim holding a tenant's data
	// directory; DefaultDataSize if zero.
	DataSize resource.Quantity
	// Class is the StorageClass of the claim; "" is the cluster's
	// default.
	Class string
}

// DefaultDataSize is the size of a tenant's data claim unless configured.
var DefaultDataSize = resource.MustParse("1Gi")

// Names of a tenant's objects that are one per tenant.
const (
	quotaName   = "stamp-plan"
	limitsName  = "stamp-plan"
	policyName  = "stamp-isolation"
	accountName = "stamp-tenant"
	claimName   = "stamp-data"
	// defaultUID runs a tenant's containers when the runtime names no
	// user: never root.
	defaultUID = 65532
)

// objects are what one revision of a tenant needs, as apply
// configurations, in the order they are applied.
type objects struct {
	namespace   *corev1ac.NamespaceApplyConfiguration
	quota       *corev1ac.ResourceQuotaApplyConfiguration
	limits      *corev1ac.LimitRangeApplyConfiguration
	policy      *netv1ac.NetworkPolicyApplyConfiguration
	account     *corev1ac.ServiceAccountApplyConfiguration
	claim       *corev1ac.PersistentVolumeClaimApplyConfiguration
	secrets     []*corev1ac.SecretApplyConfiguration
	deployments []*appsv1ac.DeploymentApplyConfiguration
}

// tenantLabels are the labels of every object of tenant of control plane
// instance at a version of a blueprint.
func tenantLabels(instance, tenant string, b stamp.BundleRef) map[string]string {
	return map[string]string{
		LabelManagedBy: managedBy,
		LabelInstance:  instance,
		LabelTenant:    tenant,
		LabelBlueprint: labelValue(b.Name),
		LabelVersion:   labelValue(b.Version),
	}
}

// namespace is the tenant's namespace, whose pods the API server itself
// holds to the restricted pod security standard: none runs as root,
// escalates or keeps capabilities.
func namespace(ns string, labels map[string]string) *corev1ac.NamespaceApplyConfiguration {
	return corev1ac.Namespace(ns).WithLabels(labels).WithLabels(map[string]string{"pod-security.kubernetes.io/enforce": "restricted"})
}

// account is the tenant's service account: its pods get no token.
func account(ns string, labels map[string]string) *corev1ac.ServiceAccountApplyConfiguration {
	return corev1ac.ServiceAccount(accountName, ns).WithLabels(labels).WithAutomountServiceAccountToken(false)
}

// claim is the tenant's data directory: one volume for every revision
// and hook, which outlives pods and upgrades and goes with the
// namespace.
func claim(ns string, labels map[string]string, st Storage) *corev1ac.PersistentVolumeClaimApplyConfiguration {
	size := st.DataSize
	if size.IsZero() {
		size = DefaultDataSize
	}
	spec := corev1ac.PersistentVolumeClaimSpec().
		WithAccessModes(corev1.ReadWriteOnce).
		WithResources(corev1ac.VolumeResourceRequirements().WithRequests(corev1.ResourceList{corev1.ResourceStorage: size}))
	if st.Class != "" {
		spec.WithStorageClassName(st.Class)
	}
	return corev1ac.PersistentVolumeClaim(claimName, ns).WithLabels(labels).WithSpec(spec)
}

// desired returns the objects of rt's revision for the driver
// configured with cfg. A service without an image cannot run here:
// EINVALID.
func desired(rt *stamp.Runtime, cfg Config) (*objects, error) {
	ns := namespaceOf(cfg.Instance, rt.Tenant)
	tenant := tenantLabels(cfg.Instance, rt.Tenant, rt.Bundle)
	o := &objects{
		namespace: namespace(ns, tenant),
		quota:     quota(ns, tenant, rt),
		limits:    limitRange(ns, tenant, rt),
		policy:    policy(ns, tenant, rt, cfg.Network),
		account:   account(ns, tenant),
		claim:     claim(ns, tenant, cfg.Storage),
	}
	for _, svc := range rt.Services {
		if svc.Image == "" {
			return nil, stamp.Errorf(stamp.EINVALID, "service %s has no image: the kubernetes driver runs container images (the blueprint's image:)", svc.Name)
		}
		labels := maps.Clone(tenant)
		labels[LabelService] = svc.Name
		labels[LabelRevision] = labelSafe(rt.Revision)
		name := objectName(svc.Name, rt.Revision)
		vars := env(svc)
		o.secrets = append(o.secrets, corev1ac.Secret(name, ns).WithLabels(labels).
			WithType(corev1.SecretTypeOpaque).WithStringData(vars))
		o.deployments = append(o.deployments, deployment(ns, name, labels, rt, svc, envHash(vars)))
	}
	return o, nil
}

// selector picks the pods of one service's revision.
func selector(labels map[string]string) map[string]string {
	return map[string]string{LabelTenant: labels[LabelTenant], LabelService: labels[LabelService], LabelRevision: labels[LabelRevision]}
}

// env is a service's environment with the instance variables filled in
// as a pod sees them: it binds every address on its declared port, and
// its data directory is /data.
func env(svc stamp.Service) map[string]string {
	port := strconv.Itoa(svc.Port)
	vals := map[string]string{stamp.VarPort: port, stamp.VarHost: "0.0.0.0", stamp.VarListen: "0.0.0.0:" + port, stamp.VarTenantDir: dataDir}
	out := make(map[string]string, len(svc.Env)+1)
	for k, v := range svc.Env {
		out[k] = stamp.ExpandInstanceVars(v, vals)
	}
	if !svc.NoPortEnv && svc.Port > 0 {
		out["PORT"] = port
	}
	return out
}

// dataDir is where a pod finds the tenant's own writable directory.
const dataDir = "/data"

// envHash identifies an environment: a SHA-256 of its sorted pairs.
func envHash(vars map[string]string) string {
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		fmt.Fprintf(h, "%s=%s\x00", k, vars[k])
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func deployment(ns, name string, labels map[string]string, rt *stamp.Runtime, svc stamp.Service, envSum string) *appsv1ac.DeploymentApplyConfiguration {
	uid := runAs(rt.UID)
	c := container(svc.Name, svc.Image, name, svc.Command, uid)
	if svc.Port > 0 {
		c.WithPorts(corev1ac.ContainerPort().WithName("http").WithContainerPort(int32(svc.Port)))
	}
	if h := svc.Health; h != nil && svc.Port > 0 {
		c.WithReadinessProbe(corev1ac.Probe().
			WithHTTPGet(corev1ac.HTTPGetAction().WithPath(h.Path).WithPort(intstr.FromInt32(int32(svc.Port)))).
			WithPeriodSeconds(seconds(h.Interval.Seconds())).WithTimeoutSeconds(seconds(h.Timeout.Seconds())))
	}
	if res := resources(rt, svc); res != nil {
		c.WithResources(res)
	}
	d := appsv1ac.Deployment(name, ns).WithLabels(labels)
	if svc.Public && svc.Port > 0 {
		// Switch puts the public services behind a Service each.
		d.WithAnnotations(map[string]string{AnnotationPublic: "true"})
	}
	return d.WithSpec(appsv1ac.DeploymentSpec().
		WithReplicas(int32(svc.Replicas)).
		WithSelector(metav1ac.LabelSelector().WithMatchLabels(selector(labels))).
		WithTemplate(corev1ac.PodTemplateSpec().WithLabels(labels).
			// Labels hold the revision as a name part; Observe reports
			// it as the reconciler named it.
			WithAnnotations(map[string]string{AnnotationRevision: rt.Revision, AnnotationEnv: envSum}).
			WithSpec(podSpec(c, uid))))
}

// runAs is the user a tenant's containers run as: its own, or, when the
// runtime names none, defaultUID; never root.
func runAs(uid int) int64 {
	if uid == 0 {
		return defaultUID
	}
	return int64(uid)
}

// container is a tenant's container (a service's or a hook's) named name,
// running image (command, if given) as uid, its environment from the
// Secret secret, locked down as the restricted pod security standard
// asks, with a writable /tmp on a read-only root and the tenant's data
// directory.
func container(name, image, secret string, command []string, uid int64) *corev1ac.ContainerApplyConfiguration {
	c := corev1ac.Container().WithName(name).WithImage(image).
		WithEnvFrom(corev1ac.EnvFromSource().WithSecretRef(corev1ac.SecretEnvSource().WithName(secret))).
		WithSecurityContext(corev1ac.SecurityContext().
			WithAllowPrivilegeEscalation(false).WithReadOnlyRootFilesystem(true).
			WithRunAsNonRoot(true).WithRunAsUser(uid).WithRunAsGroup(uid).
			WithCapabilities(corev1ac.Capabilities().WithDrop("ALL"))).
		WithVolumeMounts(
			corev1ac.VolumeMount().WithName("tmp").WithMountPath("/tmp"),
			corev1ac.VolumeMount().WithName("data").WithMountPath(dataDir))
	if len(command) > 0 {
		c.WithCommand(command...)
	}
	return c
}

// podSpec is the spec of a tenant's pod running c as uid: the tenant's
// service account with no token, no service links, RuntimeDefault
// seccomp, c's /tmp and the tenant's data claim.
func podSpec(c *corev1ac.ContainerApplyConfiguration, uid int64) *corev1ac.PodSpecApplyConfiguration {
	return corev1ac.PodSpec().
		WithServiceAccountName(accountName).WithAutomountServiceAccountToken(false).
		WithEnableServiceLinks(false).
		WithSecurityContext(corev1ac.PodSecurityContext().WithRunAsNonRoot(true).WithFSGroup(uid).
			WithSeccompProfile(corev1ac.SeccompProfile().WithType(corev1.SeccompProfileTypeRuntimeDefault))).
		WithVolumes(
			corev1ac.Volume().WithName("tmp").WithEmptyDir(corev1ac.EmptyDirVolumeSource()),
			corev1ac.Volume().WithName("data").WithPersistentVolumeClaim(corev1ac.PersistentVolumeClaimVolumeSource().WithClaimName(claimName))).
		WithContainers(c)
}

// seconds rounds a probe's period or timeout up to whole seconds, at
// least one, as Kubernetes counts them.
func seconds(s float64) int32 {
	n := int32(s)
	if float64(n) < s {
		n++
	}
	return max(n, 1)
}

// resources are a container's requests and limits, requested as much as
// limited so that the quota's sums hold: an equal share of the tenant's
// plan for each pod of the revision, so that a revision takes the plan
// and the quota's other half holds the next one, or the service's own
// size if smaller.
func resources(rt *stamp.Runtime, svc stamp.Service) *corev1ac.ResourceRequirementsApplyConfiguration {
	pods := 0
	for _, s := range rt.Services {
		pods += max(s.Replicas, 1)
	}
	share := func(plan int64, own int64) int64 {
		if plan <= 0 {
			return own
		}
		if s := plan / int64(max(pods, 1)); own <= 0 || s < own {
			return s
		}
		return own
	}
	list := corev1.ResourceList{}
	if m := share(rt.Limits.Memory, svc.Memory); m > 0 {
		list[corev1.ResourceMemory] = *resource.NewQuantity(m, resource.BinarySI)
	}
	if c := share(int64(rt.Limits.CPU*1000), int64(svc.CPU*1000)); c > 0 {
		list[corev1.ResourceCPU] = *resource.NewMilliQuantity(c, resource.DecimalSI)
	}
	if len(list) == 0 {
		return nil
	}
	return corev1ac.ResourceRequirements().WithLimits(list).WithRequests(list)
}

// quota bounds the whole tenant: twice its plan's memory and CPU across
// every pod of every revision and hook. A running revision uses at most
// the plan (each container is limited to its share); the room beyond is
// for the second revision during an upgrade, and for pods still
// terminating while their replacements start (a quota counts them until
// they are gone), plus a hook. It counts no pods: every container has a
// size (its own, or the limit range's default), so memory bounds their
// number, and the tenant's own code cannot make pods (it has no token).
// Depending on the plan alone, the quota a hook's namespace gets first
// is the one Apply writes.
func quota(ns string, labels map[string]string, rt *stamp.Runtime) *corev1ac.ResourceQuotaApplyConfiguration {
	hard := corev1.ResourceList{}
	if m := rt.Limits.Memory; m > 0 {
		q := *resource.NewQuantity(2*m, resource.BinarySI)
		hard[corev1.ResourceLimitsMemory], hard[corev1.ResourceRequestsMemory] = q, q
	}
	if c := rt.Limits.CPU; c > 0 {
		q := *resource.NewMilliQuantity(2*int64(c*1000), resource.DecimalSI)
		hard[corev1.ResourceLimitsCPU], hard[corev1.ResourceRequestsCPU] = q, q
	}
	return corev1ac.ResourceQuota(quotaName, ns).WithLabels(labels).WithSpec(corev1ac.ResourceQuotaSpec().WithHard(hard))
}

// limitRange keeps any one container within the tenant's whole limit,
// and gives one that names no size (a hook's: services are sized by the
// plan) that whole limit: a hook runs before or beside one revision, so
// the quota's room holds it. Depending on the plan alone, the limit
// range a hook's namespace gets first is the one Apply writes.
func limitRange(ns string, labels map[string]string, rt *stamp.Runtime) *corev1ac.LimitRangeApplyConfiguration {
	plan := corev1.ResourceList{}
	if m := rt.Limits.Memory; m > 0 {
		plan[corev1.ResourceMemory] = *resource.NewQuantity(m, resource.BinarySI)
	}
	if c := rt.Limits.CPU; c > 0 {
		plan[corev1.ResourceCPU] = *resource.NewMilliQuantity(int64(c*1000), resource.DecimalSI)
	}
	item := corev1ac.LimitRangeItem().WithType(corev1.LimitTypeContainer)
	if len(plan) > 0 {
		item.WithDefault(plan).WithDefaultRequest(plan).WithMax(plan)
	}
	return corev1ac.LimitRange(limitsName, ns).WithLabels(labels).WithSpec(corev1ac.LimitRangeSpec().WithLimits(item))
}

// policy denies every connection to and from the tenant's pods but
// those between them, those from the router's namespace, DNS, and the
// tenant databases; with outbound access, anything beyond the cluster
// too.
func policy(ns string, labels map[string]string, rt *stamp.Runtime, net Network) *netv1ac.NetworkPolicyApplyConfiguration {
	own := netv1ac.NetworkPolicyPeer().WithPodSelector(metav1ac.LabelSelector())
	ingress := []*netv1ac.NetworkPolicyIngressRuleApplyConfiguration{netv1ac.NetworkPolicyIngressRule().WithFrom(own)}
	if net.RouterNamespace != "" {
		ingress = append(ingress, netv1ac.NetworkPolicyIngressRule().WithFrom(netv1ac.NetworkPolicyPeer().
			WithNamespaceSelector(metav1ac.LabelSelector().WithMatchLabels(map[string]string{corev1.LabelMetadataName: net.RouterNamespace}))))
	}
	dns := netv1ac.NetworkPolicyEgressRule().
		WithTo(netv1ac.NetworkPolicyPeer().
			WithNamespaceSelector(metav1ac.LabelSelector().WithMatchLabels(map[string]string{corev1.LabelMetadataName: "kube-system"})).
			WithPodSelector(metav1ac.LabelSelector().WithMatchLabels(map[string]string{"k8s-app": "kube-dns"}))).
		WithPorts(port(corev1.ProtocolUDP, 53), port(corev1.ProtocolTCP, 53))
	egress := []*netv1ac.NetworkPolicyEgressRuleApplyConfiguration{netv1ac.NetworkPolicyEgressRule().WithTo(own), dns}
	dbs := slices.Clone(net.Databases)
	slices.SortFunc(dbs, func(a, b netip.AddrPort) int { return a.Compare(b) })
	for _, db := range dbs {
		bits := 32
		if db.Addr().Is6() {
			bits = 128
		}
		egress = append(egress, netv1ac.NetworkPolicyEgressRule().
			WithTo(netv1ac.NetworkPolicyPeer().WithIPBlock(netv1ac.IPBlock().WithCIDR(fmt.Sprintf("%s/%d", db.Addr(), bits)))).
			WithPorts(port(corev1.ProtocolTCP, int(db.Port()))))
	}
	if rt.Outbound {
		egress = append(egress, netv1ac.NetworkPolicyEgressRule().WithTo(
			netv1ac.NetworkPolicyPeer().WithIPBlock(netv1ac.IPBlock().WithCIDR("0.0.0.0/0")),
			netv1ac.NetworkPolicyPeer().WithIPBlock(netv1ac.IPBlock().WithCIDR("::/0"))))
	}
	return netv1ac.NetworkPolicy(policyName, ns).WithLabels(labels).WithSpec(netv1ac.NetworkPolicySpec().
		WithPodSelector(metav1ac.LabelSelector()).
		WithPolicyTypes("Ingress", "Egress").
		WithIngress(ingress...).WithEgress(egress...))
}

func port(proto corev1.Protocol, n int) *netv1ac.NetworkPolicyPortApplyConfiguration {
	return netv1ac.NetworkPolicyPort().WithProtocol(proto).WithPort(intstr.FromInt32(int32(n)))
}
