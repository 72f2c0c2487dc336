package awsemu

import "time"

type enableKeyRotationInput struct {
	KeyId                *string
	RotationPeriodInDays *int64
}

type keyRotationStatusOutput struct {
	KeyRotationEnabled   bool       `json:"KeyRotationEnabled"`
	KeyId                string     `json:"KeyId"`
	RotationPeriodInDays int64      `json:"RotationPeriodInDays,omitempty"`
	NextRotationDate     *epochTime `json:"NextRotationDate,omitempty"`
}

func (e *Emulator) getKeyRotationStatus(in *keyIDInput) (any, error) {
	k, err := e.lookup(in, false)
	if err != nil {
		return nil, err
	}
	if err := e.requireOrigin(k, originAWSKMS); err != nil {
		return nil, err
	}
	out := keyRotationStatusOutput{KeyRotationEnabled: k.Rotation, KeyId: e.keyARN(k.ID)}
	if k.Rotation {
		next := k.RotationSince.Add(time.Duration(k.RotationPeriod) * 24 * time.Hour)
		out.RotationPeriodInDays, out.NextRotationDate = k.RotationPeriod, epochPtr(&next)
	}
	return out, nil
}

func (e *Emulator) enableKeyRotation(in *enableKeyRotationInput) (any, error) {
	var v validator
	v.reqStr("keyId", in.KeyId, 1, maxKeyIDLen)
	v.intRange("rotationPeriodInDays", in.RotationPeriodInDays, 90, 2560)
	if err := v.err(); err != nil {
		return nil, err
	}
	k, err := e.rotatableKey(*in.KeyId)
	if err != nil {
		return nil, err
	}
	period := intOr(in.RotationPeriodInDays, 365)
	if !k.Rotation || k.RotationPeriod != period {
		k.Rotation, k.RotationPeriod, k.RotationSince = true, period, e.now()
		e.touch()
	}
	return nil, nil
}

func (e *Emulator) disableKeyRotation(in *keyIDInput) (any, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	k, err := e.rotatableKey(*in.KeyId)
	if err != nil {
		return nil, err
	}
	if k.Rotation {
		k.Rotation, k.RotationPeriod = false, 0
		e.touch()
	}
	return nil, nil
}

// rotatableKey resolves a key whose rotation setting may change: an
// Enabled key of origin AWS_KMS.
func (e *Emulator) rotatableKey(id string) (*kmsKey, error) {
	k, err := e.resolveKey(id, false)
	if err != nil {
		return nil, err
	}
	if err := e.requireOrigin(k, originAWSKMS); err != nil {
		return nil, err
	}
	if err := e.requireUsable(k); err != nil {
		return nil, err
	}
	return k, nil
}
