package source

// Budget bounds what one team source may bring, so that one team cannot
// stop deploys for every team: a ShinyProxy resource or a DaemonSet that
// grows past what the API server takes fails for everyone. The platform
// sets it in laiki.yaml (budgets:, and a source's own budget: over it);
// what a source brings over its budget is refused at the offending file,
// and the rest of it, and every other source, still deploys.
type Budget struct {
	// Files: Laiki files (YAML) in the source.
	Files int `yaml:"files"`
	// FileBytes: one file.
	FileBytes int `yaml:"file-bytes"`
	// SourceBytes: all its files together.
	SourceBytes int `yaml:"source-bytes"`
	// Documents: YAML documents in all its files.
	Documents int `yaml:"documents"`
	// ResourcesPerTarget: resources bound to one target.
	ResourcesPerTarget int `yaml:"resources-per-target"`
	// SpecBytesPerTarget: the specs (after pre-processors, as JSON) of its
	// resources in one target: what it adds to that target's objects.
	SpecBytesPerTarget int `yaml:"spec-bytes-per-target"`
}

// DefaultBudget is far above what a team's real apps need, and small
// enough that a few teams at their budget still fit in one ShinyProxy
// resource (the API server takes about 1.5 MiB an object).
var DefaultBudget = Budget{
	Files:              2000,
	FileBytes:          256 << 10,
	SourceBytes:        8 << 20,
	Documents:          2000,
	ResourcesPerTarget: 500,
	SpecBytesPerTarget: 192 << 10,
}

// over fills the unset fields of b from def.
func (b Budget) over(def Budget) Budget {
	for _, f := range []struct{ v, d *int }{
		{&b.Files, &def.Files}, {&b.FileBytes, &def.FileBytes}, {&b.SourceBytes, &def.SourceBytes},
		{&b.Documents, &def.Documents}, {&b.ResourcesPerTarget, &def.ResourcesPerTarget}, {&b.SpecBytesPerTarget, &def.SpecBytesPerTarget},
	} {
		if *f.v <= 0 {
			*f.v = *f.d
		}
	}
	return b
}

// BudgetOf is the budget of a source: its own, over the configuration's,
// over DefaultBudget. Platform sources have none (nil).
func (c *Config) BudgetOf(s *Source) *Budget {
	if s == nil || s.Role == RolePlatform {
		return nil
	}
	b := c.Budgets.over(DefaultBudget)
	if s.Budget != nil {
		b = s.Budget.over(b)
	}
	return &b
}
